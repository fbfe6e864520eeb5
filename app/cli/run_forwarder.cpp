// `scmoe run` in the LibTorch-free `scmoe`: finds the engine program scmoe-run and execs it with the
// same arguments (exit code, signals, output and error messages are then scmoe-run's own).
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "scmoe/profiler/capture/module_search.h"

namespace scmoe::cli {

namespace {
char** g_argv = nullptr;  // main's argv, for the subcommand callback
constexpr const char* kRunProgram = "scmoe-run";
}  // namespace

int exec_run_program(char** argv) {
  // Where the run-time modules are looked for (next to the executable, then ../lib/scmoe); only paths:
  // a bare name would run whatever scmoe-run comes first on PATH.
  std::string tried;
  for (const std::string& path : prof::capture::module_search_paths(kRunProgram, "SCMOE_RUN_PROGRAM", "", "")) {
    if (path.find('/') == std::string::npos) continue;
    ::execv(path.c_str(), argv);
    tried += (tried.empty() ? "" : "; ") + path + ": " + std::strerror(errno);
  }
  std::cerr << "scmoe run: cannot start the engine program " << kRunProgram << " (" << tried << ")\n";
  return 1;
}

void add_run_forwarder(CLI::App& app) {
  // Only for the help listing and for `scmoe <global flags> run ...`: `scmoe run ...` is handed over in
  // main() before anything is parsed.
  CLI::App* cmd = app.add_subcommand(
      "run", "Run the ScMoE engine (or a baseline) and report iteration times (scmoe run --help: its options)");
  cmd->prefix_command();
  cmd->allow_extras();
  cmd->set_help_flag();
  cmd->callback([] { set_exit_code(exec_run_program(g_argv)); });
}

void remember_argv(char** argv) { g_argv = argv; }

}  // namespace scmoe::cli
