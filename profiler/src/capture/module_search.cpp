#include "scmoe/profiler/capture/module_search.h"

#include <cstdlib>
#include <filesystem>

namespace scmoe::prof::capture {

std::vector<std::string> module_search_paths(const std::string& file_name, const char* env_var,
                                             const std::string& explicit_path, const std::string& build_tree_path) {
  if (!explicit_path.empty()) return {explicit_path};
  std::vector<std::string> out;
  if (const char* env = std::getenv(env_var); env != nullptr && *env != '\0') out.emplace_back(env);
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / file_name).string());
    out.push_back((exe.parent_path().parent_path() / "lib" / "scmoe" / file_name).string());
  }
  if (!build_tree_path.empty()) out.push_back(build_tree_path);
  out.push_back(file_name);
  return out;
}

}  // namespace scmoe::prof::capture
