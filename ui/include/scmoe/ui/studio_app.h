// Entry point of the studio: parses the command line, opens the main window, runs the event loop.
#pragma once

class QApplication;

namespace scmoe::ui {

int run_studio(QApplication& app);

}  // namespace scmoe::ui
