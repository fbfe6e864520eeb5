// Comparison of two traces (A = baseline, B = candidate): per operator and per phase (added, removed,
// faster, slower, with deltas) and the speedup of the median iteration time.
//
// Traces may hold different numbers of iterations, so times are compared per iteration: an op's total
// time divided by the trace's iteration count (1 when it has none).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scmoe/profiler/analysis/breakdown.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::analysis {

enum class Change : std::uint8_t { Added, Removed, Faster, Slower, Unchanged };
std::string_view change_name(Change c);

struct CompareOptions {
  GroupBy group_by = GroupBy::Name;
  TrackSelection tracks = TrackSelection::Auto;
  // Relative change (of time per iteration) below which an op or phase counts as unchanged.
  double unchanged_within = 0.02;
};

struct OpDelta {
  std::string key;
  Change change = Change::Unchanged;
  std::int64_t count_a = 0, count_b = 0;
  double per_iteration_a_ns = 0, per_iteration_b_ns = 0;  // total time / iteration count
  double median_a_ns = 0, median_b_ns = 0;
  double delta_ns() const { return per_iteration_b_ns - per_iteration_a_ns; }
};

struct PhaseDelta {
  std::string phase;  // "compute", "dispatch", "combine", "other_comm", "exposed_comm"
  Change change = Change::Unchanged;
  double a_ns = 0, b_ns = 0;  // union time per iteration, summed over ranks
  double delta_ns() const { return b_ns - a_ns; }
};

struct Comparison {
  std::vector<OpDelta> ops;        // by |delta| descending
  std::vector<PhaseDelta> phases;
  std::int64_t iteration_a_ns = 0;  // median iteration time (whole extent without iterations)
  std::int64_t iteration_b_ns = 0;
  // T_a / T_b: "1.25x" means B's iteration is 1.25 times as fast.
  double speedup_x() const { return iteration_b_ns > 0 ? double(iteration_a_ns) / double(iteration_b_ns) : 0.0; }
  // 1 - T_b / T_a, in percent: the share of A's iteration time that B saves.
  double time_saved_percent() const {
    return iteration_a_ns > 0 ? 100.0 * (1.0 - double(iteration_b_ns) / double(iteration_a_ns)) : 0.0;
  }
};

Comparison compare_traces(const Trace& a, const Trace& b, const CompareOptions& options = {});

}  // namespace scmoe::prof::analysis
