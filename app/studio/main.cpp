// `scmoe-studio`: the Qt desktop application. Wiring only: the windows live in ui/.
//
//   scmoe-studio --compare-screenshot OUT.png A B
// renders the Compare window of traces A and B offscreen and saves it (the screenshot in docs/), without
// a display and without the main window.
#include <QApplication>
#include <QFileInfo>
#include <cstdio>
#include <cstring>
#include <memory>

#include "scmoe/profiler/formats/load.h"
#include "scmoe/ui/compare_view.h"
#include "scmoe/ui/studio_app.h"

namespace {

std::shared_ptr<const scmoe::prof::Trace> load_or_report(const char* path) {
  scmoe::prof::formats::LoadResult r = scmoe::prof::formats::load_traces({path});
  if (!r.trace) {
    std::fprintf(stderr, "scmoe-studio: %s\n", r.error.c_str());
    return nullptr;
  }
  return std::make_shared<const scmoe::prof::Trace>(std::move(*r.trace));
}

int compare_screenshot(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: scmoe-studio --compare-screenshot OUT.png A B\n");
    return 2;
  }
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  const auto a = load_or_report(argv[3]);
  const auto b = load_or_report(argv[4]);
  if (!a || !b) return 1;
  scmoe::ui::CompareView view(a, QFileInfo(QString::fromLocal8Bit(argv[3])).fileName(), b,
                              QFileInfo(QString::fromLocal8Bit(argv[4])).fileName());
  view.resize(1400, 1150);
  // Shown and laid out before the grab: a widget never shown has no layout yet and grabs as blank.
  view.show();
  QApplication::processEvents();
  if (!view.grab().save(QString::fromLocal8Bit(argv[2]), "PNG")) {
    std::fprintf(stderr, "scmoe-studio: %s: cannot write the screenshot\n", argv[2]);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--compare-screenshot") == 0) return compare_screenshot(argc, argv);
  // --help and --version only print: let them work in a terminal without a display.
  for (int i = 1; i < argc; ++i) {
    for (const char* flag : {"-h", "--help", "--help-all", "-v", "--version"}) {
      if (std::strcmp(argv[i], flag) == 0 && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    }
  }
  QApplication app(argc, argv);
  return scmoe::ui::run_studio(app);
}
