#include "scmoe/profiler/analysis/collectives.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "scmoe/profiler/analysis/intervals.h"
#include "scmoe/profiler/analysis/iterations.h"
#include "scmoe/profiler/analysis/overlap.h"

namespace scmoe::prof::analysis {

namespace {

// One communication span of one rank, as far as matching is concerned.
struct CommSpan {
  std::int32_t rank = 0;
  std::string_view name, communicator;
  std::optional<std::int64_t> sequence;
  std::int64_t start = 0, end = 0;
  std::int32_t iteration = kNoIndex;
};

// "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)" -> "ncclDevKernel_SendRecv": the argument
// list may differ in spelling between ranks, the kernel does not.
std::string_view without_arguments(std::string_view name) {
  const auto paren = name.find('(');
  return paren == std::string_view::npos || paren == 0 ? name : name.substr(0, paren);
}

std::optional<std::int64_t> to_int(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

class ArgReader {
 public:
  explicit ArgReader(const Trace& trace)
      : trace_(trace), group_(trace.strings.find("Process Group Name")), seq_(trace.strings.find("Seq")),
        seq_lower_(trace.strings.find("seq")) {}

  void read(const Span& s, CommSpan& out) const {
    if (s.args == kNoArgs) return;
    for (const Arg& a : trace_.args[s.args]) {
      if (group_ && a.key == *group_) out.communicator = a.value();
      if ((seq_ && a.key == *seq_) || (seq_lower_ && a.key == *seq_lower_)) out.sequence = to_int(a.value());
    }
  }

 private:
  const Trace& trace_;
  std::optional<std::uint32_t> group_, seq_, seq_lower_;
};

// The iteration of a span starting at `start` on `rank`: its tag (engine traces) or the ProfilerStep
// window of the rank that contains it.
std::int32_t iteration_of(const IterationWindows& windows, std::int32_t rank, const Span& s) {
  if (windows.source == IterationSource::SpanTags) return s.iteration;
  for (const IterationWindow& w : windows.windows) {
    if (w.rank == rank && w.window.start <= s.start_ns && s.start_ns < w.window.end) return w.iteration;
  }
  return kNoIndex;
}

std::vector<CommSpan> communication_spans(const Trace& trace, const IterationWindows& windows) {
  const ArgReader args(trace);
  std::vector<CommSpan> out;
  for (const std::int32_t rank : ranks_of(trace)) {
    for (const std::uint32_t t : selected_tracks(trace, rank, TrackSelection::Auto)) {
      for (const Span& s : trace.tracks[t].spans) {
        if (!is_communication(s.category)) continue;
        CommSpan c;
        c.rank = rank;
        c.name = without_arguments(trace.name_of(s));
        c.start = s.start_ns;
        c.end = s.end_ns;
        c.iteration = iteration_of(windows, rank, s);
        args.read(s, c);
        out.push_back(c);
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const CommSpan& a, const CommSpan& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.start < b.start;
  });
  return out;
}

// Groups the spans into instances: by (communicator, sequence, name) where every span of the
// communicator has a sequence number, else by (communicator, name, occurrence on the rank).
std::vector<CollectiveInstance> match(const std::vector<CommSpan>& spans, bool& by_sequence, std::size_t& unmatched) {
  std::map<std::string_view, bool> sequenced;  // communicator -> all its spans carry a sequence number
  for (const CommSpan& c : spans) {
    auto [it, inserted] = sequenced.try_emplace(c.communicator, true);
    it->second = it->second && c.sequence.has_value();
  }
  std::map<std::tuple<std::string_view, std::string_view, std::int64_t>, std::size_t> index;
  std::map<std::tuple<std::int32_t, std::string_view, std::string_view>, std::int64_t> occurrence;
  std::vector<CollectiveInstance> all;
  for (const CommSpan& c : spans) {
    const bool use_sequence = sequenced[c.communicator];
    by_sequence = by_sequence || use_sequence;
    const std::int64_t number = use_sequence ? *c.sequence : occurrence[{c.rank, c.communicator, c.name}]++;
    auto [it, inserted] = index.try_emplace({c.communicator, c.name, number}, all.size());
    if (inserted) {
      CollectiveInstance instance;
      instance.name = std::string(c.name);
      instance.communicator = std::string(c.communicator);
      instance.sequence = number;
      instance.iteration = c.iteration;  // the lowest rank's (spans come by rank)
      all.push_back(std::move(instance));
    }
    CollectiveInstance& instance = all[it->second];
    if (!instance.arrivals.empty() && instance.arrivals.back().rank == c.rank) continue;  // a repeated number
    instance.arrivals.push_back({c.rank, c.start, c.end});
  }
  std::vector<CollectiveInstance> matched;
  for (CollectiveInstance& instance : all) {
    if (instance.arrivals.size() < 2) {
      unmatched += instance.arrivals.size();
      continue;
    }
    std::int64_t first = instance.arrivals[0].start_ns, last = first;
    instance.straggler = instance.arrivals[0].rank;
    for (const CollectiveArrival& a : instance.arrivals) {
      first = std::min(first, a.start_ns);
      if (a.start_ns > last) last = a.start_ns, instance.straggler = a.rank;
    }
    instance.wait_ns = last - first;
    matched.push_back(std::move(instance));
  }
  std::stable_sort(matched.begin(), matched.end(), [](const CollectiveInstance& a, const CollectiveInstance& b) {
    const auto first = [](const CollectiveInstance& i) {
      std::int64_t t = i.arrivals[0].start_ns;
      for (const CollectiveArrival& a : i.arrivals) t = std::min(t, a.start_ns);
      return t;
    };
    return first(a) < first(b);
  });
  return matched;
}

std::vector<IterationCollectives> per_iteration(const std::vector<CollectiveInstance>& collectives) {
  std::map<std::int32_t, IterationCollectives> rows;
  std::map<std::int32_t, std::map<std::int32_t, std::size_t>> last_counts;  // iteration -> rank -> times last
  for (const CollectiveInstance& c : collectives) {
    IterationCollectives& row = rows[c.iteration];
    row.iteration = c.iteration;
    ++row.collectives;
    row.total_wait_ns += c.wait_ns;
    row.max_wait_ns = std::max(row.max_wait_ns, c.wait_ns);
    if (c.wait_ns > 0) ++last_counts[c.iteration][c.straggler];
  }
  std::vector<IterationCollectives> out;
  for (auto& [iteration, row] : rows) {
    for (const auto& [rank, count] : last_counts[iteration]) {
      if (count > row.straggler_count) row.straggler = rank, row.straggler_count = count;
    }
    out.push_back(row);
  }
  return out;
}

// Per rank and iteration (kNoIndex: whole trace), the union of the time it waited in collectives.
std::map<std::pair<std::int32_t, std::int32_t>, IntervalSet> waiting(const std::vector<CollectiveInstance>& collectives,
                                                                      IterationSource source) {
  std::map<std::pair<std::int32_t, std::int32_t>, std::vector<Interval>> raw;
  for (const CollectiveInstance& c : collectives) {
    std::int64_t last = c.arrivals[0].start_ns;
    for (const CollectiveArrival& a : c.arrivals) last = std::max(last, a.start_ns);
    for (const CollectiveArrival& a : c.arrivals) {
      const Interval wait{a.start_ns, std::min(a.end_ns, last)};
      if (wait.length() <= 0) continue;
      raw[{a.rank, kNoIndex}].push_back(wait);
      if (source == IterationSource::SpanTags && c.iteration != kNoIndex) raw[{a.rank, c.iteration}].push_back(wait);
    }
  }
  std::map<std::pair<std::int32_t, std::int32_t>, IntervalSet> out;
  for (auto& [key, intervals] : raw) out[key] = make_interval_set(std::move(intervals));
  return out;
}

std::vector<RankWait> rank_waits(const Trace& trace, const std::vector<CollectiveInstance>& collectives,
                                 const IterationWindows& windows) {
  const OverlapReport overlap = analyze_overlap(trace);
  const auto waits = waiting(collectives, windows.source);
  std::map<std::int32_t, IntervalSet> compute;
  for (RankUnions& u : rank_unions(trace)) compute[u.rank] = std::move(u.compute);
  auto exposed_wait = [&](const IntervalSet& wait, std::int32_t rank) {
    return total_length(wait) - intersection_length(wait, compute[rank]);
  };
  static const IntervalSet kNone;
  auto wait_of = [&](std::int32_t rank, std::int32_t iteration) -> const IntervalSet& {
    const auto it = waits.find({rank, iteration});
    return it == waits.end() ? kNone : it->second;
  };
  std::vector<RankWait> out;
  for (const OverlapRow& row : overlap.whole_trace) {
    if (row.rank == kAllRanks) continue;
    out.push_back({row.rank, kNoIndex, row.total.exposed_ns, exposed_wait(wait_of(row.rank, kNoIndex), row.rank)});
  }
  for (const OverlapRow& row : overlap.per_iteration) {
    IntervalSet wait;
    if (windows.source == IterationSource::ProfilerSteps) {
      // As the overlap analysis does: the step's window clips the rank's unions.
      for (const IterationWindow& w : windows.windows) {
        if (w.rank == row.rank && w.iteration == row.iteration) wait = clip(wait_of(row.rank, kNoIndex), w.window);
      }
    } else {
      wait = wait_of(row.rank, row.iteration);
    }
    out.push_back({row.rank, row.iteration, row.total.exposed_ns, exposed_wait(wait, row.rank)});
  }
  return out;
}

}  // namespace

CollectivesReport analyze_collectives(const Trace& trace) {
  CollectivesReport report;
  const std::vector<std::int32_t> ranks = ranks_of(trace);
  if (ranks.size() < 2) return report;
  report.ranks = ranks;
  const IterationWindows windows = find_iterations(trace);
  report.collectives = match(communication_spans(trace, windows), report.by_sequence, report.unmatched);
  report.per_iteration = per_iteration(report.collectives);
  report.rank_waits = rank_waits(trace, report.collectives, windows);
  return report;
}

}  // namespace scmoe::prof::analysis
