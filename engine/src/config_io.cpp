#include "scmoe/engine/config_io.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <toml++/toml.h>
#include <variant>

namespace scmoe::engine {

namespace {

using Value = std::variant<long long, double, bool, std::string>;
// A setter returns an error message ("expected ...") or an empty string.
using Setter = std::function<std::string(EngineConfig&, const Value&)>;
using Getter = std::function<Value(const EngineConfig&)>;

struct KeySpec {
  ConfigKey key;
  Setter set;
  Getter get;
};

std::string describe(const Value& v) {
  if (auto* i = std::get_if<long long>(&v)) return "integer " + std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return "number " + std::to_string(*d);
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return "string \"" + std::get<std::string>(v) + "\"";
}

KeySpec int_key(std::string_view name, std::string_view help, int EngineConfig::*field) {
  return {{name, ConfigValueKind::Integer, help},
          [field](EngineConfig& c, const Value& v) -> std::string {
            const auto* i = std::get_if<long long>(&v);
            if (!i) return "expected an integer, got " + describe(v);
            if (*i < std::numeric_limits<int>::min() || *i > std::numeric_limits<int>::max()) {
              return "integer " + std::to_string(*i) + " is out of range";
            }
            c.*field = static_cast<int>(*i);
            return {};
          },
          [field](const EngineConfig& c) -> Value { return static_cast<long long>(c.*field); }};
}

std::string as_number(const Value& v, double& out) {
  if (auto* d = std::get_if<double>(&v)) {
    out = *d;
    return {};
  }
  if (auto* i = std::get_if<long long>(&v)) {
    out = static_cast<double>(*i);
    return {};
  }
  return "expected a number, got " + describe(v);
}

KeySpec number_key(std::string_view name, std::string_view help, double EngineConfig::*field) {
  return {{name, ConfigValueKind::Number, help},
          [field](EngineConfig& c, const Value& v) { return as_number(v, c.*field); },
          [field](const EngineConfig& c) -> Value { return c.*field; }};
}

KeySpec bool_key(std::string_view name, std::string_view help, bool EngineConfig::*field) {
  return {{name, ConfigValueKind::Boolean, help},
          [field](EngineConfig& c, const Value& v) -> std::string {
            const auto* b = std::get_if<bool>(&v);
            if (!b) return "expected true or false, got " + describe(v);
            c.*field = *b;
            return {};
          },
          [field](const EngineConfig& c) -> Value { return c.*field; }};
}

// A string key naming one of a fixed set of values (arch, schedule, ...).
template <typename E>
KeySpec enum_key(std::string_view name, std::string_view help, E EngineConfig::*field,
                 std::optional<E> (*parse)(std::string_view), std::string_view choices) {
  return {{name, ConfigValueKind::String, help},
          [field, parse, choices](EngineConfig& c, const Value& v) -> std::string {
            const auto* s = std::get_if<std::string>(&v);
            const auto parsed = s ? parse(*s) : std::nullopt;
            if (!parsed) return "expected one of " + std::string(choices) + ", got " + describe(v);
            c.*field = *parsed;
            return {};
          },
          [field](const EngineConfig& c) -> Value { return std::string(to_string(c.*field)); }};
}

std::string join(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

const std::vector<KeySpec>& registry() {
  static const std::vector<KeySpec> specs = [] {
    std::vector<KeySpec> k;
    k.push_back({{"preset", ConfigValueKind::String, "model preset (sets the shape fields): demo, gpt2-moe-small, gpt2-moe-medium, gpt3-moe-xl, llama2-moe"},
                 [](EngineConfig& c, const Value& v) -> std::string {
                   const auto* s = std::get_if<std::string>(&v);
                   if (s && apply_preset(*s, c)) return {};
                   return "expected one of " + join(preset_names()) + ", got " + describe(v);
                 },
                 [](const EngineConfig& c) -> Value { return c.preset; }});
    k.push_back(int_key("hidden", "hidden size", &EngineConfig::hidden));
    k.push_back(int_key("heads", "attention heads", &EngineConfig::heads));
    k.push_back(int_key("kv_heads", "key/value heads (< heads: grouped-query attention)", &EngineConfig::kv_heads));
    k.push_back(int_key("ffn", "MLP / expert intermediate size", &EngineConfig::ffn));
    k.push_back(int_key("pairs", "Block-MLP + Block-MoE pairs", &EngineConfig::pairs));
    k.push_back(bool_key("moe_every_block", "MoE in every block (forces shortcut position 1)",
                         &EngineConfig::moe_every_block));
    k.push_back(int_key("seq_len", "sequence length", &EngineConfig::seq_len));
    k.push_back(int_key("tokens_per_rank", "tokens per rank (multiple of seq_len)", &EngineConfig::tokens_per_rank));
    k.push_back(enum_key("arch", "top2, top1, shared, scmoe, scmoe2", &EngineConfig::arch, &parse_arch,
                         "top2, top1, shared, scmoe, scmoe2"));
    k.push_back(int_key("shortcut_position", "1 output, 2 intermediate, 3 input", &EngineConfig::shortcut_position));
    k.push_back(enum_key("combine", "direct, cg1, cg2", &EngineConfig::combine, &parse_combine_mode,
                         "direct, cg1, cg2"));
    k.push_back(enum_key("shortcut_norm", "reuse or dedicated LayerNorm on the shortcut",
                         &EngineConfig::shortcut_norm, &parse_shortcut_norm, "reuse, dedicated"));
    k.push_back(bool_key("post_sum_norm", "LayerNorm on (routed + shared) before the residual add",
                         &EngineConfig::post_sum_norm));
    k.push_back(int_key("num_experts", "routed experts", &EngineConfig::num_experts));
    k.push_back(int_key("ep_size", "expert-parallel ranks", &EngineConfig::ep_size));
    k.push_back(number_key("capacity_factor", "expert capacity factor", &EngineConfig::capacity_factor));
    k.push_back(bool_key("dropless", "no capacity limit, no dropped tokens", &EngineConfig::dropless));
    k.push_back(number_key("gate_noise", "std-dev of Gaussian noise on the router logits", &EngineConfig::gate_noise));
    k.push_back(number_key("aux_loss_coef", "load-balancing loss coefficient", &EngineConfig::aux_loss_coef));
    k.push_back(enum_key("schedule", "sequential, overlap, adaptive", &EngineConfig::schedule, &parse_schedule,
                         "sequential, overlap, adaptive"));
    k.push_back(int_key("expert_slot", "expert slot K for the overlap schedule", &EngineConfig::expert_slot));
    k.push_back(int_key("pipeline_chunks", "token chunks of the pipelined expert computation",
                        &EngineConfig::pipeline_chunks));
    k.push_back(enum_key("dtype", "fp32 or bf16", &EngineConfig::dtype, &parse_dtype, "fp32, bf16"));
    k.push_back(enum_key("device", "cpu or cuda", &EngineConfig::device, &parse_device, "cpu, cuda"));
    k.push_back(int_key("gpu_devices", "device cuda: local GPUs this process drives, one rank each (= ep_size "
                        "with world_size 1)", &EngineConfig::gpu_devices));
    k.push_back(int_key("world_size", "device cuda: processes in the EP group, one GPU each (1: one process)",
                        &EngineConfig::world_size));
    k.push_back(int_key("rank", "device cuda, world_size > 1: this process's rank", &EngineConfig::rank));
    k.push_back({{"rendezvous", ConfigValueKind::String,
                  "device cuda, world_size > 1: c10d TCPStore host:port (rank 0 serves it)"},
                 [](EngineConfig& c, const Value& v) -> std::string {
                   const auto* s = std::get_if<std::string>(&v);
                   if (!s) return "expected a \"host:port\" string, got " + describe(v);
                   c.rendezvous = *s;
                   return {};
                 },
                 [](const EngineConfig& c) -> Value { return c.rendezvous; }});
    k.push_back(int_key("local_device", "device cuda, world_size > 1: this process's GPU (the node-local rank)",
                        &EngineConfig::local_device));
    k.push_back(bool_key("cupti_capture", "device cuda: capture every run with CUPTI (off: measure its overhead)",
                         &EngineConfig::cupti_capture));
    k.push_back(int_key("iterations", "measured iterations", &EngineConfig::iterations));
    k.push_back(int_key("warmup", "warm-up iterations (adaptive: operator timing)", &EngineConfig::warmup));
    k.push_back(bool_key("ab_against_top2", "alternate every iteration with top-2 on the same inputs",
                         &EngineConfig::ab_against_top2));
    k.push_back({{"seed", ConfigValueKind::Integer, "random seed of weights and inputs"},
                 [](EngineConfig& c, const Value& v) -> std::string {
                   const auto* i = std::get_if<long long>(&v);
                   if (!i || *i < 0) return "expected a non-negative integer, got " + describe(v);
                   c.seed = static_cast<std::uint64_t>(*i);
                   return {};
                 },
                 [](const EngineConfig& c) -> Value { return static_cast<long long>(c.seed); }});
    k.push_back({{"link.preset", ConfigValueKind::String, "emulated link preset: pcie4, nvlink4, ib-200g, or none"},
                 [](EngineConfig& c, const Value& v) -> std::string {
                   const auto* s = std::get_if<std::string>(&v);
                   if (s && *s == "none") {
                     c.link = LinkModel{};
                     return {};
                   }
                   if (s && apply_link_preset(*s, c.link)) return {};
                   return "expected none or one of " + join(link_preset_names()) + ", got " + describe(v);
                 },
                 [](const EngineConfig& c) -> Value { 
                   return c.link.enabled && !c.link.preset.empty() ? c.link.preset : std::string("none");
                 }});
    k.push_back({{"link.enabled", ConfigValueKind::Boolean, "hold the comm lane for the modelled link time"},
                 [](EngineConfig& c, const Value& v) -> std::string {
                   const auto* b = std::get_if<bool>(&v);
                   if (!b) return "expected true or false, got " + describe(v);
                   c.link.enabled = *b;
                   return {};
                 },
                 [](const EngineConfig& c) -> Value { return c.link.enabled; }});
    // A custom bandwidth or latency enables the link and makes it a custom (unnamed) one.
    const auto link_number = [](std::string_view name, std::string_view help, double LinkModel::*field) {
      return KeySpec{{name, ConfigValueKind::Number, help},
                     [field](EngineConfig& c, const Value& v) -> std::string {
                       double d = 0.0;
                       std::string error = as_number(v, d);
                       if (!error.empty()) return error;
                       if (c.link.*field != d) c.link.preset.clear();
                       c.link.*field = d;
                       c.link.enabled = true;
                       return {};
                     },
                     [field](const EngineConfig& c) -> Value { return c.link.*field; }};
    };
    k.push_back(link_number("link.bandwidth_gbps", "emulated link bandwidth, GB/s per direction",
                            &LinkModel::bandwidth_gbps));
    k.push_back(link_number("link.latency_us", "emulated link latency, microseconds", &LinkModel::latency_us));
    k.push_back({{"link.emulated_ranks", ConfigValueKind::Integer,
                  "with ep_size 1: play one rank of a group of this size (0: off)"},
                 [](EngineConfig& c, const Value& v) -> std::string {
                   const auto* i = std::get_if<long long>(&v);
                   if (!i || *i < 0 || *i > 1 << 20) return "expected a group size >= 0, got " + describe(v);
                   c.link.emulated_ranks = static_cast<int>(*i);
                   return {};
                 },
                 [](const EngineConfig& c) -> Value { return static_cast<long long>(c.link.emulated_ranks); }});
    return k;
  }();
  return specs;
}

const KeySpec* find_key(std::string_view name) {
  for (const KeySpec& s : registry()) {
    if (s.key.name == name) return &s;
  }
  return nullptr;
}

// Keys found in a file, with where they were, applied presets first.
struct Entry {
  std::string key;
  Value value;
  std::string where;  // "line 3" / "byte 17"
};

std::vector<ConfigError> apply_entries(std::vector<Entry> entries, EngineConfig& config) {
  // Presets first, then the fields; link.enabled last, since a custom bandwidth or latency enables the link
  // and a file that says enabled = false (a round-tripped disabled link) must keep it off.
  const auto rank = [](const Entry& e) {
    return e.key == "preset" ? 0 : e.key == "link.preset" ? 1 : e.key == "link.enabled" ? 3 : 2;
  };
  std::stable_sort(entries.begin(), entries.end(),
                   [&](const Entry& a, const Entry& b) { return rank(a) < rank(b); });
  EngineConfig updated = config;
  std::vector<ConfigError> errors;
  for (const Entry& e : entries) {
    const KeySpec* spec = find_key(e.key);
    if (!spec) {
      errors.push_back({e.key, "unknown key (" + e.where + ")"});
      continue;
    }
    if (std::string error = spec->set(updated, e.value); !error.empty()) {
      errors.push_back({e.key, error + " (" + e.where + ")"});
    }
  }
  if (errors.empty()) config = updated;
  return errors;
}

void collect_toml(const toml::table& table, const std::string& prefix, std::vector<Entry>& out,
                  std::vector<ConfigError>& errors) {
  for (const auto& [name, node] : table) {
    const std::string key = prefix + std::string(name.str());
    const std::string where = "line " + std::to_string(node.source().begin.line);
    if (const auto* sub = node.as_table()) {
      collect_toml(*sub, key + ".", out, errors);
    } else if (const auto* i = node.as_integer()) {
      out.push_back({key, static_cast<long long>(i->get()), where});
    } else if (const auto* d = node.as_floating_point()) {
      out.push_back({key, d->get(), where});
    } else if (const auto* b = node.as_boolean()) {
      out.push_back({key, b->get(), where});
    } else if (const auto* s = node.as_string()) {
      out.push_back({key, s->get(), where});
    } else {
      errors.push_back({key, "unsupported value type (" + where + "): use a number, boolean or string"});
    }
  }
}

void collect_json(const nlohmann::json& object, const std::string& prefix, std::vector<Entry>& out,
                  std::vector<ConfigError>& errors) {
  for (const auto& [name, value] : object.items()) {
    const std::string key = prefix + name;
    const std::string where = "in the JSON object";
    if (value.is_object()) {
      collect_json(value, key + ".", out, errors);
    } else if (value.is_number_integer()) {
      out.push_back({key, value.get<long long>(), where});
    } else if (value.is_number()) {
      out.push_back({key, value.get<double>(), where});
    } else if (value.is_boolean()) {
      out.push_back({key, value.get<bool>(), where});
    } else if (value.is_string()) {
      out.push_back({key, value.get<std::string>(), where});
    } else {
      errors.push_back({key, "unsupported value type: use a number, boolean or string"});
    }
  }
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> out;
    for (const KeySpec& s : registry()) out.push_back(s.key);
    return out;
  }();
  return keys;
}

std::vector<ConfigError> set_config_value(EngineConfig& config, std::string_view key, std::string_view text) {
  const KeySpec* spec = find_key(key);
  if (!spec) return {{std::string(key), "unknown key"}};
  Value value = std::string(text);
  switch (spec->key.kind) {
    case ConfigValueKind::Integer: {
      long long i = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
      if (ec == std::errc() && end == text.data() + text.size()) value = i;
      break;
    }
    case ConfigValueKind::Number: {
      double d = 0.0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (ec == std::errc() && end == text.data() + text.size()) value = d;
      break;
    }
    case ConfigValueKind::Boolean:
      if (text == "true" || text == "1") value = true;
      if (text == "false" || text == "0") value = false;
      break;
    case ConfigValueKind::String: break;
  }
  if (std::string error = spec->set(config, value); !error.empty()) return {{std::string(key), error}};
  return {};
}

std::vector<ConfigError> parse_config_toml(std::string_view text, EngineConfig& config) {
  toml::table table;
  try {
    table = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return {{"file", "TOML syntax error at line " + std::to_string(e.source().begin.line) + ", column " +
                         std::to_string(e.source().begin.column) + ": " + std::string(e.description())}};
  }
  std::vector<Entry> entries;
  std::vector<ConfigError> errors;
  collect_toml(table, "", entries, errors);
  if (!errors.empty()) return errors;
  return apply_entries(std::move(entries), config);
}

std::vector<ConfigError> parse_config_json(std::string_view text, EngineConfig& config) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann counts bytes from 1; report the 0-based offset of the offending byte.
    return {{"file", "JSON syntax error at byte offset " + std::to_string(e.byte > 0 ? e.byte - 1 : 0) + ": " +
                         e.what()}};
  }
  if (!json.is_object()) return {{"file", "a JSON config must be an object of keys"}};
  std::vector<Entry> entries;
  std::vector<ConfigError> errors;
  collect_json(json, "", entries, errors);
  if (!errors.empty()) return errors;
  return apply_entries(std::move(entries), config);
}

std::vector<ConfigError> load_config_file(const std::string& path, EngineConfig& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {{"file", "cannot open " + path}};
  std::ostringstream text;
  text << in.rdbuf();
  const auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::vector<ConfigError> errors;
  if (ends_with(".toml")) {
    errors = parse_config_toml(text.str(), config);
  } else if (ends_with(".json")) {
    errors = parse_config_json(text.str(), config);
  } else {
    return {{"file", path + ": unknown config format (use a .toml or .json file)"}};
  }
  for (ConfigError& e : errors) e.message = path + ": " + e.message;
  return errors;
}

std::string config_to_json(const EngineConfig& config) {
  nlohmann::json json = nlohmann::json::object();
  for (const KeySpec& s : registry()) {
    nlohmann::json* target = &json;
    std::string_view name = s.key.name;
    if (const auto dot = name.find('.'); dot != std::string_view::npos) {
      target = &json[std::string(name.substr(0, dot))];
      name = name.substr(dot + 1);
    }
    std::visit([&](const auto& v) { (*target)[std::string(name)] = v; }, s.get(config));
  }
  return json.dump(2);
}

}  // namespace scmoe::engine
