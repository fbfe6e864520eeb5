#include "scmoe/ui/studio_app.h"

#include <QApplication>
#include <QMainWindow>

#include "scmoe/version.h"

namespace scmoe::ui {

int run_studio(QApplication& app) {
  QApplication::setApplicationName("ScMoE Studio");
  QApplication::setOrganizationName("ScMoE");
  QApplication::setApplicationVersion(kVersion);
  QMainWindow window;
  window.setWindowTitle("ScMoE Studio");
  window.resize(1280, 800);
  window.show();
  return app.exec();
}

}  // namespace scmoe::ui
