// The one command-line front both `scmoe` programs share: the same application name and description,
// --version, help without a subcommand, and the exit code of the subcommand that ran.
#pragma once

#include <initializer_list>

namespace CLI {
class App;
}

namespace scmoe::cli {

using AddCommand = void (*)(CLI::App&);

// Builds the application with the given subcommands, parses argv and runs the chosen one.
int run_cli(int argc, char** argv, std::initializer_list<AddCommand> commands);

}  // namespace scmoe::cli
