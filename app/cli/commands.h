// Subcommands of `scmoe`. Each add_* registers one subcommand whose callback runs it and records its exit
// code for main() to return.
#pragma once

namespace CLI {
class App;
}

namespace scmoe::cli {

void set_exit_code(int code);
int exit_code();

void add_run_command(CLI::App& app);  // in scmoe-run only (it links the engine)

// In `scmoe`: `run` is handed to the engine program scmoe-run (run_forwarder.cpp). exec_run_program
// replaces the process with it, given main's argv; it returns (1) only when it cannot start it.
int exec_run_program(char** argv);
void remember_argv(char** argv);  // for the forwarder's callback
void add_run_forwarder(CLI::App& app);

void add_convert_command(CLI::App& app);

void add_analyze_command(CLI::App& app);  // analyze and diff

void add_launch_command(CLI::App& app);  // the ranks of a multi-process run

}  // namespace scmoe::cli
