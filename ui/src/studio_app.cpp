#include "scmoe/ui/studio_app.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFile>
#include <QTimer>
#include <cstdio>

#include "scmoe/engine/config_io.h"
#include "scmoe/ui/main_window.h"
#include "scmoe/ui/run_panel.h"
#include "scmoe/version.h"

namespace scmoe::ui {

namespace {

struct Automation {
  QStringList compare;
  bool predict = false;
  QString report;
  QString timeline;
  QString screenshot;
  bool quit = false;
};

void fail(const QString& message) { std::fprintf(stderr, "scmoe-studio: %s\n", qPrintable(message)); }

// After the run finished or the trace loaded: predictions, exports, screenshot, then maybe quit.
void finish(MainWindow& window, const Automation& a, bool ok) {
  int code = ok ? 0 : 1;
  // The compare window opens once its trace is loaded; exports below cover the main window.
  if (ok && !a.compare.isEmpty()) window.compareWith(a.compare);
  if (ok && a.predict && !window.predict()) {
    fail(QStringLiteral("--predict: nothing measured to predict from"));
    code = 1;
  }
  // Let the last queued updates (charts, summary) paint before images are taken.
  QApplication::processEvents();
  if (!a.report.isEmpty()) {
    const QString error = window.exportReport(a.report);
    if (!error.isEmpty()) { fail(error); code = 1; }
  }
  if (!a.timeline.isEmpty()) {
    const QString error = window.exportTimelineImage(a.timeline);
    if (!error.isEmpty()) { fail(error); code = 1; }
  }
  if (!a.screenshot.isEmpty() && !window.grab().save(a.screenshot, "PNG")) {
    fail(QStringLiteral("%1: cannot write the screenshot").arg(a.screenshot));
    code = 1;
  }
  if (a.quit) QApplication::exit(code);
}

}  // namespace

int run_studio(QApplication& app) {
  QApplication::setApplicationName(QStringLiteral("ScMoE Studio"));
  QApplication::setOrganizationName(QStringLiteral("ScMoE"));
  QApplication::setApplicationVersion(QString::fromUtf8(kVersion));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral(
      "ScMoE Studio: live per-stream timeline, speedup and what-if schedules for shortcut-connected expert "
      "parallelism.\nWith no FILE the built-in demo workload starts at once."));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("FILE"),
                               QStringLiteral("Trace(s) to open: .scmoe, Chrome/PyTorch-profiler .json or .json.gz; "
                                              "several files = one rank each."),
                               QStringLiteral("[FILE...]"));
  const QCommandLineOption no_autorun(QStringLiteral("no-autorun"), QStringLiteral("Do not start the demo workload."));
  const QCommandLineOption config(QStringLiteral("config"), QStringLiteral("Engine config (TOML/JSON) for the run."), QStringLiteral("FILE"));
  const QCommandLineOption iterations(QStringLiteral("iterations"), QStringLiteral("Override the number of iterations."), QStringLiteral("N"));
  const QCommandLineOption predict(QStringLiteral("predict"), QStringLiteral("After the run, predict the configured schedule (what-if)."));
  const QCommandLineOption report(QStringLiteral("export-report"), QStringLiteral("After the run / load, write the report (.pdf or .html)."), QStringLiteral("FILE"));
  const QCommandLineOption timeline(QStringLiteral("export-timeline"), QStringLiteral("After the run / load, write the visible timeline (.png or .svg)."), QStringLiteral("FILE"));
  const QCommandLineOption screenshot(QStringLiteral("screenshot"), QStringLiteral("After the run / load, save a PNG of the window."), QStringLiteral("FILE"));
  const QCommandLineOption quit(QStringLiteral("quit-after-run"), QStringLiteral("Quit after the run / load and the exports (exit code 1 on any error)."));
  const QCommandLineOption compare(QStringLiteral("compare"),
                                   QStringLiteral("After the load / run, compare with this trace (repeat for one file per rank)."),
                                   QStringLiteral("FILE"));
  parser.addOptions({no_autorun, config, iterations, compare, predict, report, timeline, screenshot, quit});
  parser.process(app);

  Automation automation{parser.values(compare), parser.isSet(predict), parser.value(report), parser.value(timeline), parser.value(screenshot),
                        parser.isSet(quit)};
  MainWindow window;
  window.show();

  const QStringList files = parser.positionalArguments();
  QObject::connect(&window, &MainWindow::traceOpened, &window, [&] { finish(window, automation, true); });
  QObject::connect(&window, &MainWindow::loadFailed, &window, [&](const QString& error) {
    fail(error);
    finish(window, automation, false);
  });
  QObject::connect(&window, &MainWindow::runFinished, &window, [&](bool cancelled) {
    finish(window, automation, !cancelled && window.lastError().isEmpty());
  });

  if (!files.isEmpty()) {
    window.openFiles(files);
  } else if (!parser.isSet(no_autorun) || parser.isSet(config)) {
    engine::EngineConfig c;
    QFile demo(QStringLiteral(":/scmoe/configs/demo.toml"));
    std::vector<engine::ConfigError> errors;
    if (demo.open(QIODevice::ReadOnly)) errors = engine::parse_config_toml(demo.readAll().toStdString(), c);
    if (parser.isSet(config) && errors.empty()) errors = engine::load_config_file(parser.value(config).toStdString(), c);
    if (parser.isSet(iterations)) {
      bool ok = false;
      const int n = parser.value(iterations).toInt(&ok);
      if (!ok || n < 1) {
        fail(QStringLiteral("--iterations: expected a positive integer, got '%1'").arg(parser.value(iterations)));
        return 2;
      }
      c.iterations = n;
    }
    for (const engine::ConfigError& e : errors) fail(QString::fromStdString(e.field + ": " + e.message));
    if (!errors.empty()) return 2;
    window.runPanel()->setConfig(c);
    // Start once the window is up, so the first paint is not delayed by the engine's start-up.
    QTimer::singleShot(0, &window, [&] {
      if (!window.startRun()) {
        fail(window.lastError());
        if (automation.quit) QApplication::exit(2);
      }
    });
  } else if (automation.quit) {
    fail(QStringLiteral("--quit-after-run with --no-autorun and no FILE: nothing to do"));
    return 2;
  }
  return app.exec();
}

}  // namespace scmoe::ui
