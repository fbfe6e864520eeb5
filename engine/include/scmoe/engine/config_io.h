// Reading and writing engine configurations: TOML and JSON files, single keys from command-line flags,
// and the JSON form of a config (for --json summaries and reports). One registry of keys serves all of
// them, so a field is spelled the same everywhere ("hidden", "link.bandwidth_gbps", ...).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scmoe/engine/config.h"

namespace scmoe::engine {

enum class ConfigValueKind { Integer, Number, Boolean, String };

struct ConfigKey {
  std::string_view name;   // file key; nested tables joined with '.', e.g. "link.latency_us"
  ConfigValueKind kind;
  std::string_view help;
};
const std::vector<ConfigKey>& config_keys();

// Sets one key from its text form (command-line flags). "preset" and "link.preset" apply their preset.
// Returns the error (naming key, value and expectation) or nothing.
std::vector<ConfigError> set_config_value(EngineConfig& config, std::string_view key, std::string_view text);

// Applies a file's keys on top of `config`; the format follows the extension (.toml or .json). A "preset"
// key is applied first, then the other keys override it. Unknown keys, wrong types and syntax errors are
// reported with their line (TOML) or byte offset (JSON); `config` is left unchanged on any error.
std::vector<ConfigError> load_config_file(const std::string& path, EngineConfig& config);
std::vector<ConfigError> parse_config_toml(std::string_view text, EngineConfig& config);
std::vector<ConfigError> parse_config_json(std::string_view text, EngineConfig& config);

// Every key with its value, as a JSON object text (the inverse of parse_config_json).
std::string config_to_json(const EngineConfig& config);

}  // namespace scmoe::engine
