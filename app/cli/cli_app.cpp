#include "cli/cli_app.h"

#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "scmoe/version.h"

namespace scmoe::cli {

int run_cli(int argc, char** argv, std::initializer_list<AddCommand> commands) {
  CLI::App app{"scmoe: run the ScMoE engine and analyse MoE communication/computation overlap"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and build options, then exit");
  for (const AddCommand add : commands) add(app);

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
  return exit_code();
}

}  // namespace scmoe::cli
