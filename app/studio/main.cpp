// `scmoe-studio`: the Qt desktop application. Wiring only: the windows live in ui/.
#include <QApplication>
#include <cstring>

#include "scmoe/ui/studio_app.h"

int main(int argc, char** argv) {
  // --help and --version only print: let them work in a terminal without a display.
  for (int i = 1; i < argc; ++i) {
    for (const char* flag : {"-h", "--help", "--help-all", "-v", "--version"}) {
      if (std::strcmp(argv[i], flag) == 0 && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    }
  }
  QApplication app(argc, argv);
  return scmoe::ui::run_studio(app);
}
