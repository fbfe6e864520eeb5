// `scmoe`: the command-line face of ScMoE Studio. Each subcommand lives in its own file and registers
// itself here; this file only wires them together.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "scmoe/version.h"

int main(int argc, char** argv) {
  CLI::App app{"scmoe: run the ScMoE engine and analyse MoE communication/computation overlap"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and build options, then exit");
  scmoe::cli::add_run_command(app);
  scmoe::cli::add_convert_command(app);
  scmoe::cli::add_analyze_command(app);
  scmoe::cli::add_launch_command(app);


  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (show_version) {
    std::cout << "scmoe " << scmoe::kVersion << " (" << scmoe::kBuildType
              << ", CUDA parts: " << (scmoe::kBuiltWithCuda ? "built" : "not built")
              << ", studio: " << (scmoe::kBuiltWithUi ? "built" : "not built") << ")\n";
    return 0;
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return 0;
  }
  return scmoe::cli::exit_code();
}
