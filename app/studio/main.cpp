// `scmoe-studio`: the Qt desktop application. Wiring only: the windows live in ui/.
#include <QApplication>

#include "scmoe/ui/studio_app.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  return scmoe::ui::run_studio(app);
}
