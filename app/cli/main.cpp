// `scmoe`: the command-line face of ScMoE Studio. Each subcommand lives in its own file and registers
// itself here; this file only wires them together.
//
// analyze, convert and diff run in this process, which links no LibTorch: it starts in milliseconds.
// `scmoe run` needs the engine: it replaces this process with the engine program scmoe-run (next to
// `scmoe` in the build tree, lib/scmoe/ when installed; run_forwarder.cpp), which parses the same
// arguments with the same subcommand, so `scmoe run` behaves exactly as if it were built in.
#include <string_view>

#include "cli/cli_app.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "run") return scmoe::cli::exec_run_program(argv);
  scmoe::cli::remember_argv(argv);
  return scmoe::cli::run_cli(argc, argv,
                             {scmoe::cli::add_run_forwarder, scmoe::cli::add_convert_command,
                              scmoe::cli::add_analyze_command,
                              scmoe::cli::add_launch_command});
}
