// What the classification rules did not understand in a trace: the work that fell into "other" (by total
// time) and the rules that matched nothing. A trace that speaks a dialect the rules do not know shows it
// here at once: its communication kernels head the unknown list, and the family rules sit unmatched.
// Used by `scmoe analyze` (text and JSON) and the studio's rule editor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scmoe/profiler/classify.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::analysis {

struct UnknownWork {
  std::string name;
  std::uint64_t count = 0;
  std::int64_t total_ns = 0;  // sum of the spans' durations (not a union)
};

struct RuleCoverage {
  // Spans in category Other on the tracks the overlap analysis reads (GPU kernels where the trace has
  // them, else host ops), grouped by name, longest total first.
  std::vector<UnknownWork> unknown;
  std::int64_t unknown_ns = 0;  // their total
  std::int64_t work_ns = 0;     // total of every span on those tracks, memcpy/memset excluded
  // Indices (into rules.rules() / rules.annotation_rules()) of the rules that matched no span of the
  // trace: kernel rules by name, scope and arg condition on any track; annotation rules by name on host
  // spans and GPU annotations.
  std::vector<std::size_t> unmatched_rules;
  std::vector<std::size_t> unmatched_annotation_rules;
};

RuleCoverage rule_coverage(const Trace& trace, const ClassificationRules& rules);

}  // namespace scmoe::prof::analysis
