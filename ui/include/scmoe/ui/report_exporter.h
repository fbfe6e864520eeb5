// Reports of what the studio shows: a self-contained HTML file (the profiler's report renderer for the
// tables, plus the studio's own timeline and chart images embedded as base64 PNG) and a PDF drawn with
// QPdfWriter. Both are written atomically (QSaveFile): a failed export leaves no partial file.
#pragma once

#include <QImage>
#include <QString>
#include <string>
#include <utility>
#include <vector>

namespace scmoe::ui {

using KeyValueRows = std::vector<std::pair<std::string, std::string>>;

struct ReportContent {
  QString title;
  QStringList notes;          // e.g. "communication times come from an emulated link"
  KeyValueRows config;        // engine configuration or the opened files
  KeyValueRows machine;       // machine and versions
  KeyValueRows summary;       // overlap, exposed comm, speedups (x and % time), ...
  std::vector<std::string> slot_header;  // per-K table of the what-if (optional)
  std::vector<std::vector<std::string>> slot_rows;
  int chosen_slot_row = -1;
  QImage timeline;            // the visible timeline
  QImage charts;              // iteration time / speedup and breakdown charts (optional)
};

// Returns "" or the error (which names the path).
QString write_html_report(const ReportContent& content, const QString& path);
QString write_pdf_report(const ReportContent& content, const QString& path);

// Machine and version lines for reports: OS, CPU count, Qt, ScMoE Studio version.
KeyValueRows machine_rows();

}  // namespace scmoe::ui
