#include "scmoe/profiler/analysis/compare.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "scmoe/profiler/analysis/iterations.h"
#include "scmoe/profiler/analysis/overlap.h"

namespace scmoe::prof::analysis {

namespace {

double iteration_count(const Trace& trace) {
  const std::vector<IterationTime> times = iteration_times(find_iterations(trace));
  return times.empty() ? 1.0 : double(times.size());
}

Change classify(double a, double b, bool in_a, bool in_b, double unchanged_within) {
  if (!in_a) return Change::Added;
  if (!in_b) return Change::Removed;
  if (std::abs(b - a) <= unchanged_within * std::max(std::abs(a), std::abs(b))) return Change::Unchanged;
  return b < a ? Change::Faster : Change::Slower;
}

// The row summing every rank (or the only rank's row).
OverlapRow whole_trace_row(const Trace& trace, TrackSelection tracks) {
  OverlapOptions options;
  options.tracks = tracks;
  options.per_iteration = false;
  const OverlapReport report = analyze_overlap(trace, options);
  return report.whole_trace.empty() ? OverlapRow{} : report.whole_trace.back();
}

}  // namespace

std::string_view change_name(Change c) {
  switch (c) {
    case Change::Added: return "added";
    case Change::Removed: return "removed";
    case Change::Faster: return "faster";
    case Change::Slower: return "slower";
    case Change::Unchanged: return "unchanged";
  }
  return "unchanged";
}

Comparison compare_traces(const Trace& a, const Trace& b, const CompareOptions& options) {
  Comparison out;
  const double iterations_a = iteration_count(a), iterations_b = iteration_count(b);

  BreakdownOptions bo;
  bo.group_by = options.group_by;
  bo.tracks = options.tracks;
  std::map<std::string, std::pair<const OpStats*, const OpStats*>> by_key;
  const std::vector<OpStats> ops_a = breakdown(a, bo), ops_b = breakdown(b, bo);
  for (const OpStats& op : ops_a) by_key[op.key].first = &op;
  for (const OpStats& op : ops_b) by_key[op.key].second = &op;
  for (const auto& [key, pair] : by_key) {
    OpDelta d;
    d.key = key;
    if (pair.first) {
      d.count_a = pair.first->count;
      d.per_iteration_a_ns = double(pair.first->total_ns) / iterations_a;
      d.median_a_ns = pair.first->median_ns;
    }
    if (pair.second) {
      d.count_b = pair.second->count;
      d.per_iteration_b_ns = double(pair.second->total_ns) / iterations_b;
      d.median_b_ns = pair.second->median_ns;
    }
    d.change = classify(d.per_iteration_a_ns, d.per_iteration_b_ns, pair.first != nullptr, pair.second != nullptr,
                        options.unchanged_within);
    out.ops.push_back(std::move(d));
  }
  std::stable_sort(out.ops.begin(), out.ops.end(), [](const OpDelta& x, const OpDelta& y) {
    return std::abs(x.delta_ns()) > std::abs(y.delta_ns());
  });

  const OverlapRow ra = whole_trace_row(a, options.tracks), rb = whole_trace_row(b, options.tracks);
  const std::array<std::pair<const char*, std::pair<std::int64_t, std::int64_t>>, 5> phases = {{
      {"compute", {ra.total.compute_ns, rb.total.compute_ns}},
      {"dispatch", {ra.dispatch.comm_ns, rb.dispatch.comm_ns}},
      {"combine", {ra.combine.comm_ns, rb.combine.comm_ns}},
      {"other_comm", {ra.other_comm.comm_ns, rb.other_comm.comm_ns}},
      {"exposed_comm", {ra.total.exposed_ns, rb.total.exposed_ns}},
  }};
  for (const auto& [name, times] : phases) {
    PhaseDelta p;
    p.phase = name;
    p.a_ns = double(times.first) / iterations_a;
    p.b_ns = double(times.second) / iterations_b;
    p.change = classify(p.a_ns, p.b_ns, times.first > 0 || times.second == 0, times.second > 0 || times.first == 0,
                        options.unchanged_within);
    out.phases.push_back(std::move(p));
  }
  out.iteration_a_ns = median_iteration_ns(a);
  out.iteration_b_ns = median_iteration_ns(b);
  return out;
}

}  // namespace scmoe::prof::analysis
