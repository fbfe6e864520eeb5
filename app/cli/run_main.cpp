// scmoe-run: the engine half of `scmoe` (the only CLI program that links LibTorch). `scmoe run ...`
// execs it with its own argv, so argv[1] is "run" and the subcommand parses as it always has.
#include "cli/cli_app.h"
#include "cli/commands.h"

int main(int argc, char** argv) { return scmoe::cli::run_cli(argc, argv, {scmoe::cli::add_run_command}); }
