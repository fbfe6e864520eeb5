// GCC 12 with -fsanitize=address reports a false -Wmaybe-uninitialized inside <regex>'s compiler
// (the std::function member of _StateT), a known GCC 12 false positive. Only this file compiles regexes.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "scmoe/profiler/classify.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

#include "scmoe/profiler/formats/atomic_file.h"

namespace scmoe::prof {

namespace {

constexpr std::array<std::string_view, 3> kScopeNames = {"any", "device", "host"};

std::string_view scope_name(RuleScope s) { return kScopeNames[static_cast<std::size_t>(s)]; }

// The engine names its annotation ranges after the category, optionally prefixed "scmoe:" or "scmoe/",
// optionally followed by a qualifier ("dispatch_chunk1", "expert:3", "combine L4").
ClassificationRule engine_rule(Category c) {
  return {"^(scmoe[:/])?" + std::string(category_name(c)) + "(\\b|_|$)", "", "", RuleScope::Any, c};
}

}  // namespace

std::vector<ClassificationRule> ClassificationRules::engine_annotation_preset() {
  std::vector<ClassificationRule> rules;
  for (Category c : {Category::Dispatch, Category::Combine, Category::SharedExpert, Category::Expert,
                     Category::Attention, Category::Mlp, Category::Gate, Category::Encode, Category::Decode,
                     Category::OtherComm}) {
    rules.push_back(engine_rule(c));
  }
  return rules;
}

std::vector<ClassificationRule> ClassificationRules::deep_ep_preset() {
  // DeepEP kernels: deep_ep::{intranode,internode,internode_ll}::{dispatch,combine,notify_dispatch,
  // cached_notify_combine,...}; notify kernels exchange the layout of their phase, so they belong to it.
  return {
      {R"(deep_ep::\w+::\w*dispatch\b)", "", "", RuleScope::Device, Category::Dispatch},
      {R"(deep_ep::\w+::\w*combine\b)", "", "", RuleScope::Device, Category::Combine},
      {R"(deep_ep::)", "", "", RuleScope::Device, Category::OtherComm},
  };
}

std::vector<ClassificationRule> ClassificationRules::nccl_preset() {
  // ncclKernel_* (NCCL <= 2.18), ncclDevKernel_* (2.19+), ncclAllReduceRingLLKernel_* (<= 2.7). Which MoE
  // phase a SendRecv / AllToAll belongs to is only known from the engine's annotations
  // (apply_phase_annotations), so the rules say other_comm.
  return {
      {R"(^(void )?nccl\w*Kernel)", "", "", RuleScope::Device, Category::OtherComm},
      // Kineto copies record_param_comms' metadata onto the kernel ("Collective name": "allreduce").
      {"", "Collective name", "", RuleScope::Device, Category::OtherComm},
  };
}

std::vector<ClassificationRule> ClassificationRules::defaults() {
  std::vector<ClassificationRule> rules = engine_annotation_preset();
  for (auto& r : deep_ep_preset()) rules.push_back(std::move(r));
  for (auto& r : nccl_preset()) rules.push_back(std::move(r));
  return rules;
}

ClassificationRules::ClassificationRules() {
  const std::string err = set_rules(defaults());
  (void)err;  // the presets are compiled by the tests; an error here would be a programming error
}

std::string ClassificationRules::set_rules(std::vector<ClassificationRule> rules) {
  auto compiled = std::make_shared<std::vector<Compiled>>();
  compiled->reserve(rules.size());
  if (rules.size() > 60000) return "too many rules (" + std::to_string(rules.size()) + ", at most 60000)";
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const ClassificationRule& r = rules[i];
    Compiled c;
    try {
      c.name = std::regex(r.name_regex, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return "rule " + std::to_string(i) + ": name: invalid regex \"" + r.name_regex + "\": " + e.what();
    }
    if (!r.arg_value_regex.empty()) {
      if (r.arg_key.empty()) return "rule " + std::to_string(i) + ": arg_value given without arg";
      try {
        c.arg_value = std::regex(r.arg_value_regex, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error& e) {
        return "rule " + std::to_string(i) + ": arg_value: invalid regex \"" + r.arg_value_regex +
               "\": " + e.what();
      }
    }
    compiled->push_back(std::move(c));
  }
  rules_ = std::move(rules);
  compiled_ = std::move(compiled);
  return "";
}

std::string ClassificationRules::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const ClassificationRule& r : rules_) {
    nlohmann::json j;
    j["name"] = r.name_regex;
    if (!r.arg_key.empty()) j["arg"] = r.arg_key;
    if (!r.arg_value_regex.empty()) j["arg_value"] = r.arg_value_regex;
    j["scope"] = std::string(scope_name(r.scope));
    j["category"] = std::string(category_name(r.category));
    list.push_back(std::move(j));
  }
  return nlohmann::json{{"version", 1}, {"rules", std::move(list)}}.dump(2) + "\n";
}

std::string ClassificationRules::from_json(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return "classification rules: " + std::string(e.what());
  }
  if (!doc.is_object()) return "classification rules: expected a JSON object with \"rules\"";
  if (auto v = doc.find("version"); v != doc.end() && (!v->is_number_integer() || v->get<long long>() != 1)) {
    return "classification rules: version: expected 1";
  }
  const auto list = doc.find("rules");
  if (list == doc.end() || !list->is_array()) return "classification rules: rules: expected an array";
  std::vector<ClassificationRule> rules;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const nlohmann::json& j = (*list)[i];
    const std::string where = "rule " + std::to_string(i) + ": ";
    if (!j.is_object()) return where + "expected an object";
    ClassificationRule r;
    for (const auto& [key, value] : j.items()) {
      if (key == "name" || key == "arg" || key == "arg_value" || key == "scope" || key == "category") {
        if (!value.is_string()) return where + key + ": expected a string";
      } else {
        return where + "unknown field \"" + key + "\" (expected name, arg, arg_value, scope, category)";
      }
    }
    r.name_regex = j.value("name", "");
    r.arg_key = j.value("arg", "");
    r.arg_value_regex = j.value("arg_value", "");
    const std::string scope = j.value("scope", "any");
    const auto s = std::find(kScopeNames.begin(), kScopeNames.end(), scope);
    if (s == kScopeNames.end()) return where + "scope: unknown scope \"" + scope + "\" (any, device, host)";
    r.scope = static_cast<RuleScope>(s - kScopeNames.begin());
    const auto cat = j.find("category");
    if (cat == j.end()) return where + "category: missing";
    const auto c = category_from_name(cat->get<std::string>());
    if (!c) return where + "category: unknown category \"" + cat->get<std::string>() + "\"";
    r.category = *c;
    rules.push_back(std::move(r));
  }
  return set_rules(std::move(rules));
}

std::string ClassificationRules::load_file(const std::string& path) {
  std::string text;
  if (std::string err = formats::read_file(path, text); !err.empty()) return err;
  if (std::string err = from_json(text); !err.empty()) return path + ": " + err;
  return "";
}

std::string ClassificationRules::save_file(const std::string& path) const {
  return formats::write_file_atomically(path, to_json());
}

bool ClassificationRules::scope_allows(std::size_t index, bool on_device) const {
  const RuleScope s = rules_[index].scope;
  return s == RuleScope::Any || (s == RuleScope::Device) == on_device;
}

bool ClassificationRules::rule_matches_args(std::size_t index, std::span<const Arg> args,
                                            const StringTable& strings) const {
  const ClassificationRule& r = rules_[index];
  if (r.arg_key.empty()) return true;
  if (args.empty()) return false;
  const auto key = strings.find(r.arg_key);
  if (!key) return false;
  for (const Arg& a : args) {
    if (a.key != *key) continue;
    const auto& value_re = (*compiled_)[index].arg_value;
    return !value_re || std::regex_search(a.value().begin(), a.value().end(), *value_re);
  }
  return false;
}

std::optional<Category> ClassificationRules::classify(std::string_view name, std::span<const Arg> args,
                                                      const StringTable& strings, bool on_device) const {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (!scope_allows(i, on_device)) continue;
    if (!std::regex_search(name.begin(), name.end(), (*compiled_)[i].name)) continue;
    if (rule_matches_args(i, args, strings)) return rules_[i].category;
  }
  return std::nullopt;
}

Classifier::Classifier(const ClassificationRules& rules, const StringTable& strings)
    : rules_(rules), strings_(strings) {}

const std::vector<std::uint16_t>& Classifier::candidates(std::uint32_t name_id) {
  if (name_id >= cache_.size()) cache_.resize(std::max<std::size_t>(name_id + 1, cache_.size() * 2));
  auto& slot = cache_[name_id];
  if (!slot) {
    slot.emplace();
    const std::string_view name = strings_.view(name_id);
    const auto& compiled = *rules_.compiled_;
    for (std::size_t i = 0; i < compiled.size(); ++i) {
      if (!std::regex_search(name.begin(), name.end(), compiled[i].name)) continue;
      slot->push_back(static_cast<std::uint16_t>(i));
      const ClassificationRule& r = rules_.rules_[i];
      if (r.arg_key.empty() && r.scope == RuleScope::Any) break;  // always wins: later rules never matter
    }
  }
  return *slot;
}

std::optional<Category> Classifier::classify(std::uint32_t name_id, std::span<const Arg> args, bool on_device) {
  for (std::uint16_t i : candidates(name_id)) {
    if (!rules_.scope_allows(i, on_device)) continue;
    if (rules_.rule_matches_args(i, args, strings_)) return rules_.rules_[i].category;
  }
  return std::nullopt;
}

std::size_t apply_phase_annotations(Trace& trace) {
  struct Range {
    std::int64_t start, end;
    Category category;
  };
  struct Key {
    std::int32_t rank, device;
    bool operator==(const Key&) const = default;
  };
  // Dispatch/combine ranges per (rank, device), sorted by start, with a running maximum of their ends so
  // the backward walk can stop as soon as no earlier range can still be open.
  std::vector<std::pair<Key, std::vector<Range>>> groups;
  auto group_of = [&](Key k) -> std::vector<Range>* {
    for (auto& [key, ranges] : groups) {
      if (key == k) return &ranges;
    }
    return nullptr;
  };
  for (const Track& t : trace.tracks) {
    if (t.info.kind != TrackKind::Annotation || t.info.device_kind != DeviceKind::Gpu) continue;
    const Key k{t.info.rank, t.info.device};
    std::vector<Range>* ranges = group_of(k);
    if (!ranges) ranges = &groups.emplace_back(k, std::vector<Range>{}).second;
    for (const Span& s : t.spans) {
      if (s.category == Category::Dispatch || s.category == Category::Combine) {
        ranges->push_back({s.start_ns, s.end_ns, s.category});
      }
    }
  }
  std::size_t changed = 0;
  for (auto& [key, ranges] : groups) {
    if (ranges.empty()) continue;
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
    std::vector<std::int64_t> max_end(ranges.size());
    std::int64_t running = ranges[0].end;
    for (std::size_t i = 0; i < ranges.size(); ++i) max_end[i] = running = std::max(running, ranges[i].end);
    for (Track& t : trace.tracks) {
      if (t.info.kind == TrackKind::Annotation || t.info.device_kind != DeviceKind::Gpu ||
          t.info.rank != key.rank || t.info.device != key.device) {
        continue;
      }
      for (Span& s : t.spans) {
        if (s.category != Category::OtherComm) continue;
        auto it = std::upper_bound(ranges.begin(), ranges.end(), s.start_ns,
                                   [](std::int64_t v, const Range& r) { return v < r.start; });
        // Innermost (latest-starting) range that contains the span's start.
        for (auto i = it - ranges.begin(); i-- > 0;) {
          if (max_end[static_cast<std::size_t>(i)] < s.start_ns) break;
          if (ranges[static_cast<std::size_t>(i)].end >= s.start_ns) {
            s.category = ranges[static_cast<std::size_t>(i)].category;
            ++changed;
            break;
          }
        }
      }
    }
  }
  return changed;
}

}  // namespace scmoe::prof
