// The main window offscreen: a PyTorch-profiler fixture opened off the UI thread and exported as PDF /
// HTML / SVG / PNG / Chrome JSON; config errors shown next to their field; a live run that is cancelled
// returns the UI to idle; a what-if toggle changes the predicted timeline.
#include <QDir>
#include <QDropEvent>
#include <QMimeData>
#include <QSettings>
#include <QUrl>
#include <QFile>
#include <QImage>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QComboBox>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include "scmoe/ui/main_window.h"
#include "scmoe/ui/run_controller.h"
#include "scmoe/ui/run_panel.h"
#include "scmoe/ui/timeline_widget.h"

using namespace scmoe;
using namespace scmoe::ui;

namespace {

QString fixture(const char* name) { return QStringLiteral(SCMOE_FIXTURES_DIR "/kineto/") + QString::fromUtf8(name); }

QString summaryValue(const MainWindow& w, const QString& key) {
  for (int r = 0; r < w.summaryTable()->rowCount(); ++r) {
    if (w.summaryTable()->item(r, 0)->text() == key) return w.summaryTable()->item(r, 1)->text();
  }
  return {};
}

// A small, fast configuration: demo preset, emulated link, few iterations.
engine::EngineConfig small_config(int iterations) {
  engine::EngineConfig c;
  engine::apply_preset("demo", c);
  engine::apply_link_preset("pcie4", c.link);
  c.arch = engine::Arch::ScMoE;
  c.ep_size = 2;
  c.num_experts = 2;
  c.tokens_per_rank = c.seq_len;
  c.iterations = iterations;
  c.warmup = 1;
  c.schedule = engine::Schedule::Overlap;
  c.expert_slot = 1;
  return c;
}

}  // namespace

class MainWindowTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    // Settings of the tests stay out of the user's.
    QStandardPaths::setTestModeEnabled(true);
  }

  void opensKinetoRankFilesAndExportsEverything() {
    MainWindow w;
    w.resize(1200, 800);
    w.show();
    QSignalSpy opened(&w, &MainWindow::traceOpened);
    w.openFiles({fixture("trace_filter__sampled_rank-0.json.gz"), fixture("trace_filter__sampled_rank-1.json.gz")});
    QVERIFY2(opened.wait(30000), qPrintable(w.lastError()));
    QVERIFY(w.timeline()->layout());
    QCOMPARE(w.timeline()->layout()->ranks().size(), std::size_t(2));
    QVERIFY(summaryValue(w, QStringLiteral("overlap (comm hidden by compute)")).endsWith(QStringLiteral("%")));
    QVERIFY(!summaryValue(w, QStringLiteral("rank 1 overlap")).isEmpty());

    QTemporaryDir dir;
    const QString pdf = dir.filePath(QStringLiteral("report.pdf"));
    QCOMPARE(w.exportReport(pdf), QString());
    // The first page renders (poppler's pdftoppm) into a non-blank image.
    QProcess pdftoppm;
    pdftoppm.start(QStringLiteral("pdftoppm"), {QStringLiteral("-png"), QStringLiteral("-r"), QStringLiteral("50"),
                                                QStringLiteral("-f"), QStringLiteral("1"), QStringLiteral("-l"), QStringLiteral("1"),
                                                QStringLiteral("-singlefile"), pdf, dir.filePath(QStringLiteral("page"))});
    QVERIFY(pdftoppm.waitForFinished(30000));
    QCOMPARE(pdftoppm.exitCode(), 0);
    QImage page(dir.filePath(QStringLiteral("page.png")));
    QVERIFY(!page.isNull());
    int coloured = 0;
    for (int y = 0; y < page.height(); ++y)
      for (int x = 0; x < page.width(); ++x) {
        const QColor c = page.pixelColor(x, y);
        coloured += c.saturation() > 80;  // span colours, not the black text on white
      }
    QVERIFY2(coloured > 200, qPrintable(QString::number(coloured)));

    const QString html = dir.filePath(QStringLiteral("report.html"));
    QCOMPARE(w.exportReport(html), QString());
    QFile f(html);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(f.readAll());
    for (const char* section : {"<h2>Summary</h2>", "<h2>Configuration</h2>", "<h2>Machine and versions</h2>",
                                "<h2>Timeline</h2>", "data:image/png;base64,", "overlap (comm hidden by compute)"}) {
      QVERIFY2(text.contains(QString::fromUtf8(section)), section);
    }
    QCOMPARE(w.exportReport(dir.filePath(QStringLiteral("report.txt"))).isEmpty(), false);

    QCOMPARE(w.exportTimelineImage(dir.filePath(QStringLiteral("t.svg"))), QString());
    QFile svg(dir.filePath(QStringLiteral("t.svg")));
    QVERIFY(svg.open(QIODevice::ReadOnly));
    QVERIFY(svg.readAll().contains("<svg"));
    QCOMPARE(w.exportTimelineImage(dir.filePath(QStringLiteral("t.png"))), QString());
    QVERIFY(!QImage(dir.filePath(QStringLiteral("t.png"))).isNull());
    QCOMPARE(w.exportTrace(dir.filePath(QStringLiteral("t.json"))), QString());
    // A write into a folder that does not exist fails with a message and leaves nothing behind.
    const QString bad = dir.filePath(QStringLiteral("missing/report.pdf"));
    QVERIFY(!w.exportReport(bad).isEmpty());
    QVERIFY(!QFile::exists(bad));
  }

  void dropOpensFilesAndRemembersThemAsRecent() {
    QSettings().remove(QStringLiteral("recentFiles"));
    MainWindow w;
    QSignalSpy opened(&w, &MainWindow::traceOpened);
    const QString path = fixture("trace_filter__sampled_rank-1.json.gz");
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(path)});
    // As a real drag delivers it: enter (the window accepts file URLs), then drop.
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &drop);
    QVERIFY2(opened.count() == 1 || opened.wait(30000), qPrintable(w.lastError()));
    QCOMPARE(QSettings().value(QStringLiteral("recentFiles")).toStringList().value(0), path);
  }

  void badFileReportsTheError() {
    MainWindow w;
    QSignalSpy failed(&w, &MainWindow::loadFailed);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broken.json"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"traceEvents\": [ {\"ph\": \"X\", ");
    f.close();
    w.openFiles({path});
    QVERIFY(failed.wait(10000));
    QVERIFY(w.lastError().contains(QStringLiteral("broken.json")));
  }

  void invalidConfigIsShownNextToItsField() {
    MainWindow w;
    engine::EngineConfig c = small_config(2);
    c.tokens_per_rank = c.seq_len + 1;
    w.runPanel()->setConfig(c);
    QVERIFY(!w.startRun());
    QVERIFY2(w.runPanel()->errorFor(QStringLiteral("tokens_per_rank")).contains(QStringLiteral("seq_len")),
             qPrintable(w.runPanel()->errorFor(QStringLiteral("tokens_per_rank"))));
    QVERIFY(!w.runController()->running());
  }

  void liveRunThenWhatIfToggleChangesThePrediction() {
    MainWindow w;
    w.resize(1200, 800);
    w.show();
    w.runPanel()->setConfig(small_config(2));
    QSignalSpy finished(&w, &MainWindow::runFinished);
    QVERIFY(w.startRun());
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.front().front().toBool(), false);
    QVERIFY(w.timeline()->layout());  // the live Gantt shows the last iteration
    QVERIFY(!w.liveRun().archTimes().empty());
    QVERIFY(w.predict());
    const TimelineLayout* first = w.predictedTimeline()->layout();
    QVERIFY(first);
    // Compute-lane order of the first unit's ops in the predicted timeline (start order; ties keep the
    // plan's issue order), independent of the measured durations.
    auto compute_order = [&] {
      const prof::Trace& t = w.predictedTimeline()->layout()->trace();
      QStringList names;
      for (const auto& track : t.tracks) {
        if (track.info.kind != prof::TrackKind::ComputeLane) continue;
        for (const auto& s : track.spans)
          if (s.layer <= 1) names << QString::fromUtf8(t.name_of(s).data(), qsizetype(t.name_of(s).size()));
      }
      return names;
    };
    const QStringList k1 = compute_order();
    QVERIFY2(k1.indexOf("expert") >= 0 && k1.indexOf("expert") < k1.indexOf("mlp_l"), qPrintable(k1.join(' ')));
    // Toggle K from 1 to 3: the prediction is redrawn at once, the expert now after MLP_l and Attn_l+1.
    w.runPanel()->slotBox()->setValue(3);
    QVERIFY(w.predictedTimeline()->layout() != first);
    const QStringList k3 = compute_order();
    QVERIFY2(k3.indexOf("expert") > k3.indexOf("attn_l+1") && k3.indexOf("attn_l+1") > k3.indexOf("mlp_l"), qPrintable(k3.join(' ')));
    QCOMPARE(w.runPanel()->slotTable()->rowCount(), 4);
  }

  void cancelReturnsTheUiToIdle() {
    MainWindow w;
    w.runPanel()->setConfig(small_config(100000));
    QSignalSpy iteration(w.runController(), &RunController::iterationFinished);
    QSignalSpy finished(&w, &MainWindow::runFinished);
    QVERIFY(w.startRun());
    QVERIFY(!w.runPanel()->runButton()->isEnabled());
    QVERIFY(w.runPanel()->cancelButton()->isEnabled());
    QVERIFY(iteration.wait(60000));
    w.cancelRun();
    QVERIFY(finished.wait(10000));
    QCOMPARE(finished.front().front().toBool(), true);
    QVERIFY(!w.runController()->running());
    QVERIFY(w.runPanel()->runButton()->isEnabled());
    QVERIFY(!w.runPanel()->cancelButton()->isEnabled());
  }
};

QTEST_MAIN(MainWindowTest)
#include "main_window_test.moc"
