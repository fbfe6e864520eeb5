// Where a run-time loaded module of ours (libscmoe_cupti.so, libscmoe_engine_cuda.so) is looked for. The
// modules are the only binaries that link CUDA, CUPTI or NCCL, so the executables load without them.
#pragma once

#include <string>
#include <vector>

namespace scmoe::prof::capture {

// An explicit path alone; otherwise, in order: $`env_var`, next to the running executable (the build
// tree's app/), the installed ../lib/scmoe, `build_tree_path` (the module in the build tree this binary
// came from: tests and benchmarks run from other folders; empty to skip), and last the plain file name
// for LD_LIBRARY_PATH, rpath and the ld.so cache.
std::vector<std::string> module_search_paths(const std::string& file_name, const char* env_var,
                                             const std::string& explicit_path, const std::string& build_tree_path);

}  // namespace scmoe::prof::capture
