// Classification rules: which category a kernel / op / annotation belongs to, and what an annotation says
// about the work inside it. Importers and collectors use them so communication is recognised the same way
// everywhere; users load/save them as JSON to adapt them to their own kernels.
//
// Three parts, all editable JSON (resources/rules/*.json are the built-in presets, compiled in and
// installed to share/scmoe-studio/rules):
//  - kernel rules (ClassificationRule): an ordered list, the first rule that matches a span's name (and
//    optionally one of its args) gives its category. Communication kernels are recognised by name
//    families (NCCL, DeepEP and its forks, pplx-kernels, ...), not by one namespace.
//  - annotation rules (AnnotationRule): what a CPU annotation (record_function / user_annotation, an NVTX
//    range, a host op) or a GPU annotation (gpu_user_annotation) says about the kernels launched inside it
//    or running inside it: dispatch / combine / communication, forward / backward / weight gradient, layer.
//    apply_phase_annotations() applies them.
//  - the policy: whether a kernel the kernel rules call computation (a cast, a permute) counts as
//    communication when it runs inside a dispatch / combine annotation. The default is HTA's definition:
//    communication = communication kernels.
//
// Regexes are RE2 (linear time; no backreferences or lookaround). Names and arg values longer than
// kMaxMatchedBytes are matched on their first kMaxMatchedBytes bytes (a `$` anchor then sees the cut).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof {

// Only this many leading bytes of a name or arg value are matched against the rules.
inline constexpr std::size_t kMaxMatchedBytes = 4096;
// Bounds on a rules document (checked when rules are set or loaded).
inline constexpr std::size_t kMaxRules = 10000;
inline constexpr std::size_t kMaxPatternBytes = 4096;
inline constexpr std::size_t kMaxRulesFileBytes = std::size_t{16} << 20;

// Where a rule applies: to device work (kernels, GPU annotations), host work (CPU ops, host ranges) or both.
enum class RuleScope : std::uint8_t { Any, Device, Host };

struct ClassificationRule {
  std::string name_regex;       // RE2 regex searched in the name (use ^...$ to anchor)
  std::string arg_key;          // optional: the rule also requires this argument ...
  std::string arg_value_regex;  // ... whose value matches this regex (empty: any value)
  RuleScope scope = RuleScope::Any;
  Category category = Category::Other;
  std::string family;           // optional label of the library the rule recognises ("nccl", "deepep", ...)
};

// What an annotation says about the phase of the work inside it. Unset: this rule has no opinion (a later
// rule may have one); None: explicitly no phase (stops later rules).
enum class AnnotatedPhase : std::uint8_t { Unset, None, Dispatch, Combine, Communication };
// The training pass; stored on spans as kSpanForward / kSpanBackward / kSpanWeightGrad.
enum class AnnotatedPass : std::uint8_t { Unset, None, Forward, Backward, WeightGrad };

struct AnnotationRule {
  std::string name_regex;                        // RE2 regex searched in the annotation's name
  AnnotatedPhase phase = AnnotatedPhase::Unset;
  AnnotatedPass pass = AnnotatedPass::Unset;
  bool layer = false;  // the regex's first capture group is the layer number (decimal digits)
  std::string family;
};

// Whether a kernel the kernel rules call computation counts as communication inside a dispatch / combine
// / communication annotation.
enum class AnnotatedCompute : std::uint8_t {
  Computation,    // HTA's definition (default): communication = communication kernels
  Communication,  // the annotation decides: everything inside a dispatch annotation is dispatch
};
struct RulesPolicy {
  AnnotatedCompute compute_in_comm_annotation = AnnotatedCompute::Computation;
  bool operator==(const RulesPolicy&) const = default;
};

// What the annotations around one span say, after the first-rule-per-attribute resolution.
struct AnnotationVerdict {
  AnnotatedPhase phase = AnnotatedPhase::Unset;
  AnnotatedPass pass = AnnotatedPass::Unset;
  std::int32_t layer = kNoIndex;
  bool any() const { return phase != AnnotatedPhase::Unset || pass != AnnotatedPass::Unset || layer != kNoIndex; }
};

std::string_view phase_name(AnnotatedPhase p);
std::string_view pass_name(AnnotatedPass p);
// The pass flags of a span (kSpanForward ...), or Unset.
AnnotatedPass pass_of(const Span& s);

// Kernel rules, annotation rules and the policy. Regexes are compiled once when the rules are set; copies
// share the compiled form.
class ClassificationRules {
 public:
  ClassificationRules();  // the default presets (defaults())

  // The built-in presets (resources/rules/<name>.json), by name, in their default order.
  static const std::vector<std::string>& preset_names();
  // One preset's text (empty if there is no such preset).
  static std::string_view preset_text(std::string_view name);
  // Every preset, concatenated in the default order: what ClassificationRules() holds.
  static const ClassificationRules& defaults();

  // Replace the kernel rules / annotation rules. Return "" or an error naming the rule index and field
  // ("rule 2: name: invalid regex ..."); on error the previous rules stay in force.
  std::string set_rules(std::vector<ClassificationRule> rules);
  std::string set_annotation_rules(std::vector<AnnotationRule> rules);
  void set_policy(RulesPolicy policy) { policy_ = policy; }
  const std::vector<ClassificationRule>& rules() const { return rules_; }
  const std::vector<AnnotationRule>& annotation_rules() const { return annotation_rules_; }
  const RulesPolicy& policy() const { return policy_; }

  // JSON, version 2 (resources/rules/README.md):
  //   {"version": 2, "family": "...", "include": ["defaults" | preset name, ...],
  //    "rules": [{"name": "^ncclDevKernel_", "arg": "...", "arg_value": "...", "scope": "any|device|host",
  //               "category": "other_comm", "family": "nccl"}, ...],
  //    "annotations": [{"name": "(?i)dispatch", "phase": "dispatch", "pass": "forward", "layer": true}, ...],
  //    "policy": {"compute_in_comm_annotation": "computation|communication"}}
  // A document's own rules come first, then those of the presets it includes. Version 1 documents
  // ({"version": 1, "rules": [...]}) replace the kernel rules only. to_json writes everything (no includes).
  std::string to_json() const;
  // Returns "" or an error naming the rule index / field; on error *this is unchanged.
  std::string from_json(std::string_view text);
  std::string load_file(const std::string& path);        // at most kMaxRulesFileBytes, regular files only
  std::string save_file(const std::string& path) const;  // atomic

  // First matching kernel rule's category, or nullopt. `args` may be empty. Slow path (every rule per
  // call): use Classifier for bulk work.
  std::optional<Category> classify(std::string_view name, std::span<const Arg> args, const StringTable& strings,
                                   bool on_device) const;
  // What the annotation rules say about one annotation name (first rule per attribute).
  AnnotationVerdict annotation(std::string_view name) const;

  // Indices of every kernel rule whose name regex matches `name` (any scope, args not checked), ascending.
  std::vector<std::uint32_t> name_matches(std::string_view name) const;
  // Whether kernel rule `index`'s scope allows this side and its arg condition holds for `args`.
  bool rule_applies(std::size_t index, std::span<const Arg> args, const StringTable& strings, bool on_device) const;
  // Indices of every annotation rule whose regex matches `name`, ascending.
  std::vector<std::uint32_t> annotation_matches(std::string_view name) const;

 private:
  struct NoRules {};
  explicit ClassificationRules(NoRules);  // no rules at all: where defaults() starts
  struct Compiled;
  struct CompiledAnnotations;
  bool scope_allows(std::size_t index, bool on_device) const;

  std::vector<ClassificationRule> rules_;
  std::vector<AnnotationRule> annotation_rules_;
  RulesPolicy policy_;
  std::shared_ptr<const Compiled> compiled_;  // shared: copies of the rules stay cheap
  std::shared_ptr<const CompiledAnnotations> compiled_annotations_;
};

// Classifies many spans against one string table: the name regexes run once per distinct interned name
// (cached by name id); only rules with an argument condition look at each span's args.
class Classifier {
 public:
  Classifier(const ClassificationRules& rules, const StringTable& strings);
  std::optional<Category> classify(std::uint32_t name_id, std::span<const Arg> args, bool on_device);

 private:
  const std::vector<std::uint32_t>& candidates(std::uint32_t name_id);

  const ClassificationRules& rules_;
  const StringTable& strings_;
  // Per name id: indices of the rules whose name regex matches, cut after the first rule without an arg
  // condition and with scope Any (nothing after it can win). Empty optional: not computed yet.
  std::vector<std::optional<std::vector<std::uint32_t>>> cache_;
};

// Gives kernels the phase, pass and layer of the annotations around them (annotation rules of `rules`):
//  - CPU side: the host spans (annotations, NVTX ranges and host ops of the launching thread) that enclose
//    the call that launched the kernel, found through the trace's launch flows (Kineto ac2g, CUPTI
//    correlation) or, without a flow, the kernel's and the runtime call's "correlation" args;
//  - GPU side: the GPU annotation ranges (gpu_user_annotation) of the kernel's rank and device that
//    contain the kernel's start.
// Innermost annotation first, GPU side before CPU side; for each attribute the first annotation with an
// opinion decides. A communication kernel that the kernel rules could only call other_comm (NCCL SendRecv /
// AllToAll, NVSHMEM all-to-all, the engine's delay kernel) becomes dispatch or combine; a computation
// kernel inside a dispatch / combine / communication annotation becomes communication only under
// AnnotatedCompute::Communication. Every kernel with a pass gets its flag, every kernel with a layer
// (and none yet) its layer. Only CUDA-stream tracks are changed (engine lanes carry their own
// categories). Returns how many spans changed category.
std::size_t apply_phase_annotations(Trace& trace, const ClassificationRules& rules = ClassificationRules::defaults());

}  // namespace scmoe::prof
