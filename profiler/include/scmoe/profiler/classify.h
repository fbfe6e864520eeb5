// Classification rules: which category a kernel / op / annotation belongs to, decided by an ordered list of
// user-editable rules (regex on the name, optionally on one argument). Importers and collectors use them so
// communication is recognised the same way everywhere; users load/save them as JSON to adapt them to
// their own kernels.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof {

// Where a rule applies: to device work (kernels, GPU annotations), host work (CPU ops, host ranges) or both.
enum class RuleScope : std::uint8_t { Any, Device, Host };

struct ClassificationRule {
  std::string name_regex;       // ECMAScript regex searched in the name (use ^...$ to anchor)
  std::string arg_key;          // optional: the rule also requires this argument ...
  std::string arg_value_regex;  // ... whose value matches this regex (empty: any value)
  RuleScope scope = RuleScope::Any;
  Category category = Category::Other;
};

// An ordered rule list; the first rule that matches wins. Regexes are compiled once when rules are set.
class ClassificationRules {
 public:
  ClassificationRules();  // the default presets: engine annotations, DeepEP, NCCL (see defaults())
  // Presets, each usable alone or concatenated.
  static std::vector<ClassificationRule> engine_annotation_preset();
  static std::vector<ClassificationRule> deep_ep_preset();
  static std::vector<ClassificationRule> nccl_preset();
  static std::vector<ClassificationRule> defaults();  // engine annotations, then DeepEP, then NCCL

  // Replaces the rules. Returns "" or an error naming the rule index and field ("rule 2: name_regex: ...");
  // on error the previous rules stay in force.
  std::string set_rules(std::vector<ClassificationRule> rules);
  const std::vector<ClassificationRule>& rules() const { return rules_; }

  // JSON: {"version": 1, "rules": [{"name": "^ncclDevKernel_", "arg": "...", "arg_value": "...",
  //        "scope": "any|device|host", "category": "other_comm"}, ...]}
  std::string to_json() const;
  // Returns "" or an error naming the rule index / field; on error *this is unchanged.
  std::string from_json(std::string_view text);
  std::string load_file(const std::string& path);
  std::string save_file(const std::string& path) const;  // atomic

  // First matching rule's category, or nullopt. `args` may be empty. Slow path (regex per call): use
  // Classifier for bulk work.
  std::optional<Category> classify(std::string_view name, std::span<const Arg> args, const StringTable& strings,
                                   bool on_device) const;

 private:
  friend class Classifier;
  struct Compiled {
    std::regex name;
    std::optional<std::regex> arg_value;
  };
  bool rule_matches_args(std::size_t index, std::span<const Arg> args, const StringTable& strings) const;
  bool scope_allows(std::size_t index, bool on_device) const;

  std::vector<ClassificationRule> rules_;
  std::shared_ptr<const std::vector<Compiled>> compiled_;  // shared: copies of the rules stay cheap
};

// Classifies many spans against one string table: the name regexes run once per distinct interned name
// (cached by name id); only rules with an argument condition look at each span's args.
class Classifier {
 public:
  Classifier(const ClassificationRules& rules, const StringTable& strings);
  std::optional<Category> classify(std::uint32_t name_id, std::span<const Arg> args, bool on_device);

 private:
  const std::vector<std::uint16_t>& candidates(std::uint32_t name_id);

  const ClassificationRules& rules_;
  const StringTable& strings_;
  // Per name id: indices of the rules whose name regex matches, cut after the first rule without an arg
  // condition and with scope Any (nothing after it can win). Empty optional: not computed yet.
  std::vector<std::optional<std::vector<std::uint16_t>>> cache_;
};

// Communication kernels that the rules could only call other_comm (NCCL SendRecv / AllToAll) become
// dispatch or combine when they run inside a GPU-side annotation range (TrackKind::Annotation on the same
// rank and device) whose category is dispatch or combine: the engine's NVTX ranges / Kineto
// gpu_user_annotation say which phase a transfer belongs to. Host-side ranges are not used: their times
// are launch times, not execution times. Returns how many spans were re-attributed.
std::size_t apply_phase_annotations(Trace& trace);

}  // namespace scmoe::prof
