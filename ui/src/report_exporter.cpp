#include "scmoe/ui/report_exporter.h"

#include <QBuffer>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSysInfo>
#include <QThread>

#include "scmoe/profiler/report/html_report.h"
#include "scmoe/version.h"

namespace scmoe::ui {

namespace {

QString save_atomically(const QString& path, const QByteArray& bytes) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly)) return QStringLiteral("%1: cannot write: %2").arg(path, file.errorString());
  if (file.write(bytes) != bytes.size() || !file.commit()) {
    return QStringLiteral("%1: write failed: %2").arg(path, file.errorString());
  }
  return {};
}

QByteArray png_base64(const QImage& image) {
  QByteArray png;
  QBuffer buffer(&png);
  buffer.open(QIODevice::WriteOnly);
  image.save(&buffer, "PNG");
  return png.toBase64();
}

prof::report::KeyValues section(const char* heading, const KeyValueRows& rows) {
  return prof::report::KeyValues{heading, rows};
}

}  // namespace

KeyValueRows machine_rows() {
  return {
      {"ScMoE Studio", kVersion},
      {"operating system", QSysInfo::prettyProductName().toStdString()},
      {"kernel", (QSysInfo::kernelType() + QLatin1Char(' ') + QSysInfo::kernelVersion()).toStdString()},
      {"CPU architecture", QSysInfo::currentCpuArchitecture().toStdString()},
      {"logical CPUs", std::to_string(QThread::idealThreadCount())},
      {"host", QSysInfo::machineHostName().toStdString()},
      {"Qt", qVersion()},
  };
}

QString write_html_report(const ReportContent& content, const QString& path) {
  prof::report::HtmlReport report;
  report.title = content.title.toStdString();
  for (const QString& n : content.notes) report.notes.push_back(n.toStdString());
  report.key_values.push_back(section("Summary", content.summary));
  report.key_values.push_back(section("Configuration", content.config));
  report.key_values.push_back(section("Machine and versions", content.machine));
  if (!content.slot_rows.empty()) {
    report.tables.push_back(prof::report::Table{"Expert slot table (per K)", content.slot_header, content.slot_rows,
                                                content.chosen_slot_row});
  }
  std::string html = prof::report::render_html(report);
  // The studio's own rendering of the timeline and charts, embedded so the file stands alone.
  std::string figures;
  if (!content.timeline.isNull()) {
    figures += "<section><h2>Timeline</h2><img alt=\"timeline\" style=\"max-width:100%\" src=\"data:image/png;base64," +
               png_base64(content.timeline).toStdString() + "\"></section>\n";
  }
  if (!content.charts.isNull()) {
    figures += "<section><h2>Charts</h2><img alt=\"charts\" style=\"max-width:100%\" src=\"data:image/png;base64," +
               png_base64(content.charts).toStdString() + "\"></section>\n";
  }
  const std::size_t end = html.rfind("</body>");
  html.insert(end == std::string::npos ? html.size() : end, figures);
  return save_atomically(path, QByteArray::fromStdString(html));
}

QString write_pdf_report(const ReportContent& content, const QString& path) {
  QByteArray pdf;
  {
    QBuffer buffer(&pdf);
    buffer.open(QIODevice::WriteOnly);
    QPdfWriter writer(&buffer);
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setPageOrientation(QPageLayout::Landscape);
    writer.setResolution(120);
    writer.setTitle(content.title);
    writer.setCreator(QStringLiteral("ScMoE Studio"));
    QPainter p(&writer);
    if (!p.isActive()) return QStringLiteral("%1: cannot start the PDF painter").arg(path);
    const QRect page = p.viewport();
    int y = 0;
    QFont title_font = p.font();
    title_font.setPointSize(16);
    title_font.setBold(true);
    QFont body = p.font();
    body.setPointSize(9);
    p.setFont(title_font);
    p.drawText(QRect(0, y, page.width(), 40), Qt::AlignLeft | Qt::AlignVCenter, content.title);
    y += 44;
    p.setFont(body);
    const int line = p.fontMetrics().height() + 2;
    for (const QString& n : content.notes) {
      p.drawText(QRect(0, y, page.width(), line), Qt::AlignLeft, n);
      y += line;
    }
    // Two columns of key/value tables: summary left, configuration + machine right.
    auto draw_rows = [&](const char* heading, const KeyValueRows& rows, int x, int width, int top) {
      QFont bold = body;
      bold.setBold(true);
      p.setFont(bold);
      p.drawText(QRect(x, top, width, line), Qt::AlignLeft, QString::fromUtf8(heading));
      top += line;
      p.setFont(body);
      for (const auto& [key, value] : rows) {
        p.drawText(QRect(x, top, width / 2, line), Qt::AlignLeft, QString::fromStdString(key));
        p.drawText(QRect(x + width / 2, top, width / 2, line), Qt::AlignLeft, QString::fromStdString(value));
        top += line;
      }
      return top + line / 2;
    };
    const int column = page.width() / 2 - 10;
    const int left_end = draw_rows("Summary", content.summary, 0, column, y);
    int right_end = draw_rows("Configuration", content.config, column + 20, column, y);
    right_end = draw_rows("Machine and versions", content.machine, column + 20, column, right_end);
    y = std::max(left_end, right_end);
    auto draw_image = [&](const QImage& image) {
      if (image.isNull()) return;
      // Shrink into the rest of the page when a useful part of it is left, else start a new page.
      if (page.height() - y < page.height() / 3) {
        writer.newPage();
        y = 0;
      }
      const QSize size = image.size().scaled(page.width(), page.height() - y - 10, Qt::KeepAspectRatio);
      p.drawImage(QRect(QPoint(0, y), size), image);
      y += size.height() + 10;
    };
    draw_image(content.timeline);
    draw_image(content.charts);
    p.end();
  }
  if (pdf.isEmpty()) return QStringLiteral("%1: the PDF writer produced nothing").arg(path);
  return save_atomically(path, pdf);
}

}  // namespace scmoe::ui
