#include "cli/commands.h"

namespace scmoe::cli {

namespace {
int g_exit_code = 0;  // set by the subcommand that ran; CLI11 callbacks cannot return a value
}

void set_exit_code(int code) { g_exit_code = code; }
int exit_code() { return g_exit_code; }

}  // namespace scmoe::cli
