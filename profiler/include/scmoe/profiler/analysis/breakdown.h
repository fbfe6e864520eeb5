// Per-operator time breakdown: spans grouped by name (or category) with count, total, median, p90, min
// and max duration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::analysis {

enum class GroupBy : std::uint8_t { Name, Category };

struct BreakdownOptions {
  GroupBy group_by = GroupBy::Name;
  TrackSelection tracks = TrackSelection::Auto;  // same track choice as the overlap analysis
  std::optional<std::int32_t> rank;              // only this rank; all ranks when empty
  std::optional<std::int32_t> iteration;         // only spans tagged with this iteration
};

struct OpStats {
  std::string key;       // the span name, or the category name
  Category category = Category::Other;  // by name: the category of the group's first span
  std::int64_t count = 0;
  std::int64_t total_ns = 0;
  std::int64_t min_ns = 0;
  std::int64_t max_ns = 0;
  double median_ns = 0;  // quantiles interpolate linearly between order statistics (numpy's default)
  double p90_ns = 0;
};

// Sorted by total time, largest first (ties: by key).
std::vector<OpStats> breakdown(const Trace& trace, const BreakdownOptions& options = {});

// The q-quantile (0..1) of `values` by linear interpolation at position q*(n-1); reorders `values`.
// O(n) (nth_element). Precondition: values not empty.
double quantile(std::vector<std::int64_t>& values, double q);

}  // namespace scmoe::prof::analysis
