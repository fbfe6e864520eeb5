// Entry point of the studio: parses the command line, opens the main window, runs the event loop.
//
// With no file arguments the built-in workload (:/scmoe/configs/demo.toml) starts at once so a new user
// sees the live Gantt. Automation options (see --help): --no-autorun, --config FILE, --iterations N, --compare FILE,
// --predict, --export-report FILE, --export-timeline FILE, --screenshot FILE, --quit-after-run.
#pragma once

class QApplication;

namespace scmoe::ui {

int run_studio(QApplication& app);

}  // namespace scmoe::ui
