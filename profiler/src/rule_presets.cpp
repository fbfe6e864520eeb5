// The built-in presets: resources/rules/<name>.json, embedded into the library at build time
// (profiler/embed_rule_presets.cmake writes kRulePresets), and the default rules made of all of them.
#include <cstdio>
#include <cstdlib>

#include "classify_internal.h"
#include "scmoe/profiler/classify.h"

namespace scmoe::prof {

ClassificationRules::ClassificationRules(NoRules) {
  set_rules({});
  set_annotation_rules({});
}

ClassificationRules::ClassificationRules() : ClassificationRules(defaults()) {}

const std::vector<std::string>& ClassificationRules::preset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < detail::kRulePresetCount; ++i) out.emplace_back(detail::kRulePresets[i].name);
    return out;
  }();
  return names;
}

std::string_view ClassificationRules::preset_text(std::string_view name) {
  for (std::size_t i = 0; i < detail::kRulePresetCount; ++i) {
    if (detail::kRulePresets[i].name == name) return detail::kRulePresets[i].json;
  }
  return {};
}

const ClassificationRules& ClassificationRules::defaults() {
  static const ClassificationRules rules = [] {
    ClassificationRules r{NoRules{}};
    const std::string err = r.from_json(R"({"version": 2, "include": ["defaults"]})");
    if (!err.empty()) {
      // A preset that does not load is a build defect (the presets test loads each one): say which.
      std::fprintf(stderr, "scmoe: built-in classification rules: %s\n", err.c_str());
      std::abort();
    }
    return r;
  }();
  return rules;
}

AnnotatedPass pass_of(const Span& s) {
  if (s.has_flag(kSpanForward)) return AnnotatedPass::Forward;
  if (s.has_flag(kSpanBackward)) return AnnotatedPass::Backward;
  if (s.has_flag(kSpanWeightGrad)) return AnnotatedPass::WeightGrad;
  return AnnotatedPass::Unset;
}

}  // namespace scmoe::prof
