// Matching: the compiled form of the rules (RE2, one regex per rule plus an RE2::Set of all name regexes so
// a name is scanned once for every rule), first-match classification and annotation verdicts. The JSON
// form is in classify_json.cpp, the built-in presets in rule_presets.cpp, and the annotation pass in
// phase_annotations.cpp.
#include "scmoe/profiler/classify.h"

#include <algorithm>
#include <charconv>

#include "classify_internal.h"

namespace scmoe::prof {

namespace {

re2::StringPiece bounded(std::string_view text) {
  return {text.data(), std::min(text.size(), kMaxMatchedBytes)};
}

RE2::Options regex_options() {
  RE2::Options options;
  options.set_log_errors(false);  // errors are returned to the caller, never printed
  return options;
}

}  // namespace

namespace detail {

std::string compile_regex(const std::string& pattern, std::unique_ptr<RE2>& out) {
  if (pattern.size() > kMaxPatternBytes) {
    return "regex longer than " + std::to_string(kMaxPatternBytes) + " bytes (" + std::to_string(pattern.size()) + ")";
  }
  out = std::make_unique<RE2>(pattern, regex_options());
  if (!out->ok()) return "invalid regex \"" + pattern + "\": " + out->error();
  return "";
}

RegexList::RegexList(std::vector<std::unique_ptr<RE2>> regexes) : regexes_(std::move(regexes)) {
  // One scan for every rule. A set that does not compile (too large for its memory budget) is left out:
  // matching then runs the regexes one by one, with the same result.
  RE2::Options options = regex_options();
  options.set_max_mem(std::int64_t{64} << 20);
  auto set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  for (const auto& re : regexes_) {
    if (set->Add(re->pattern(), nullptr) < 0) return;
  }
  if (set->Compile()) set_ = std::move(set);
}

RegexList::~RegexList() = default;

std::vector<std::uint32_t> RegexList::matches(std::string_view text) const {
  const re2::StringPiece piece = bounded(text);
  std::vector<std::uint32_t> out;
  std::vector<int> hits;
  RE2::Set::ErrorInfo info{};
  if (set_ && (set_->Match(piece, &hits, &info) || info.kind == RE2::Set::kNoError)) {
    out.assign(hits.begin(), hits.end());
    std::sort(out.begin(), out.end());
    return out;
  }
  // No set, or its DFA ran out of memory on this text: one regex at a time.
  for (std::size_t i = 0; i < regexes_.size(); ++i) {
    if (RE2::PartialMatch(piece, *regexes_[i])) out.push_back(static_cast<std::uint32_t>(i));
  }
  return out;
}

std::int32_t RegexList::first_group_number(std::size_t index, std::string_view text) const {
  re2::StringPiece group;
  if (!RE2::PartialMatch(bounded(text), *regexes_[index], &group)) return kNoIndex;
  std::int32_t value = kNoIndex;
  const auto [end, ec] = std::from_chars(group.data(), group.data() + group.size(), value);
  if (ec != std::errc() || end != group.data() + group.size() || value < 0) return kNoIndex;
  return value;
}

}  // namespace detail

struct ClassificationRules::Compiled {
  detail::RegexList names;
  std::vector<std::unique_ptr<RE2>> arg_values;  // null: any value
};

struct ClassificationRules::CompiledAnnotations {
  detail::RegexList names;
};

std::string ClassificationRules::set_rules(std::vector<ClassificationRule> rules) {
  if (rules.size() > kMaxRules) {
    return "too many rules (" + std::to_string(rules.size()) + ", at most " + std::to_string(kMaxRules) + ")";
  }
  std::vector<std::unique_ptr<RE2>> names(rules.size());
  std::vector<std::unique_ptr<RE2>> arg_values(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const ClassificationRule& r = rules[i];
    const std::string where = "rule " + std::to_string(i) + ": ";
    if (std::string err = detail::compile_regex(r.name_regex, names[i]); !err.empty()) return where + "name: " + err;
    if (r.arg_value_regex.empty()) continue;
    if (r.arg_key.empty()) return where + "arg_value given without arg";
    if (std::string err = detail::compile_regex(r.arg_value_regex, arg_values[i]); !err.empty()) {
      return where + "arg_value: " + err;
    }
  }
  auto compiled = std::make_shared<Compiled>(Compiled{detail::RegexList(std::move(names)), std::move(arg_values)});
  rules_ = std::move(rules);
  compiled_ = std::move(compiled);
  return "";
}

std::string ClassificationRules::set_annotation_rules(std::vector<AnnotationRule> rules) {
  if (rules.size() > kMaxRules) {
    return "too many annotation rules (" + std::to_string(rules.size()) + ", at most " + std::to_string(kMaxRules) + ")";
  }
  std::vector<std::unique_ptr<RE2>> names(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string where = "annotation " + std::to_string(i) + ": ";
    if (std::string err = detail::compile_regex(rules[i].name_regex, names[i]); !err.empty()) {
      return where + "name: " + err;
    }
    if (rules[i].layer && names[i]->NumberOfCapturingGroups() < 1) {
      return where + "layer: the name regex needs a capture group for the layer number";
    }
  }
  annotation_rules_ = std::move(rules);
  compiled_annotations_ = std::make_shared<CompiledAnnotations>(CompiledAnnotations{detail::RegexList(std::move(names))});
  return "";
}

bool ClassificationRules::scope_allows(std::size_t index, bool on_device) const {
  const RuleScope s = rules_[index].scope;
  return s == RuleScope::Any || (s == RuleScope::Device) == on_device;
}

bool ClassificationRules::rule_applies(std::size_t index, std::span<const Arg> args, const StringTable& strings,
                                       bool on_device) const {
  if (!scope_allows(index, on_device)) return false;
  const ClassificationRule& r = rules_[index];
  if (r.arg_key.empty()) return true;
  if (args.empty()) return false;
  const auto key = strings.find(r.arg_key);
  if (!key) return false;
  for (const Arg& a : args) {
    if (a.key != *key) continue;
    const auto& value_re = compiled_->arg_values[index];
    return !value_re || RE2::PartialMatch(bounded(a.value()), *value_re);
  }
  return false;
}

std::vector<std::uint32_t> ClassificationRules::name_matches(std::string_view name) const {
  return compiled_->names.matches(name);
}

std::vector<std::uint32_t> ClassificationRules::annotation_matches(std::string_view name) const {
  return compiled_annotations_->names.matches(name);
}

std::optional<Category> ClassificationRules::classify(std::string_view name, std::span<const Arg> args,
                                                      const StringTable& strings, bool on_device) const {
  for (std::uint32_t i : name_matches(name)) {
    if (rule_applies(i, args, strings, on_device)) return rules_[i].category;
  }
  return std::nullopt;
}

AnnotationVerdict ClassificationRules::annotation(std::string_view name) const {
  AnnotationVerdict v;
  bool layer_decided = false;
  for (std::uint32_t i : annotation_matches(name)) {
    const AnnotationRule& r = annotation_rules_[i];
    if (v.phase == AnnotatedPhase::Unset) v.phase = r.phase;
    if (v.pass == AnnotatedPass::Unset) v.pass = r.pass;
    if (!layer_decided && r.layer) {
      v.layer = compiled_annotations_->names.first_group_number(i, name);
      layer_decided = v.layer != kNoIndex;
    }
  }
  return v;
}

Classifier::Classifier(const ClassificationRules& rules, const StringTable& strings)
    : rules_(rules), strings_(strings) {}

const std::vector<std::uint32_t>& Classifier::candidates(std::uint32_t name_id) {
  if (name_id >= cache_.size()) cache_.resize(std::max<std::size_t>(name_id + 1, cache_.size() * 2));
  auto& slot = cache_[name_id];
  if (!slot) {
    slot = rules_.name_matches(strings_.view(name_id));
    const auto& rules = rules_.rules();
    // A rule without an arg condition and with scope Any always wins: later rules never matter.
    const auto always = std::find_if(slot->begin(), slot->end(), [&](std::uint32_t i) {
      return rules[i].arg_key.empty() && rules[i].scope == RuleScope::Any;
    });
    if (always != slot->end()) slot->erase(always + 1, slot->end());
  }
  return *slot;
}

std::optional<Category> Classifier::classify(std::uint32_t name_id, std::span<const Arg> args, bool on_device) {
  for (std::uint32_t i : candidates(name_id)) {
    if (rules_.rule_applies(i, args, strings_, on_device)) return rules_.rules()[i].category;
  }
  return std::nullopt;
}

}  // namespace scmoe::prof
