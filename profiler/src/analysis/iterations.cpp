#include "scmoe/profiler/analysis/iterations.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <string_view>
#include <utility>

namespace scmoe::prof::analysis {

namespace {

constexpr std::string_view kProfilerStepPrefix = "ProfilerStep#";

void extend(std::map<std::pair<std::int32_t, std::int32_t>, Interval>& windows, std::int32_t rank,
            std::int32_t iteration, const Span& s) {
  auto [it, inserted] = windows.try_emplace({rank, iteration}, Interval{s.start_ns, s.end_ns});
  if (!inserted) {
    it->second.start = std::min(it->second.start, s.start_ns);
    it->second.end = std::max(it->second.end, s.end_ns);
  }
}

IterationWindows to_windows(IterationSource source,
                            const std::map<std::pair<std::int32_t, std::int32_t>, Interval>& windows) {
  IterationWindows out;
  out.source = source;
  for (const auto& [key, window] : windows) out.windows.push_back(IterationWindow{key.first, key.second, window});
  return out;
}

}  // namespace

IterationWindows find_iterations(const Trace& trace) {
  std::map<std::pair<std::int32_t, std::int32_t>, Interval> tagged;
  for (const Track& track : trace.tracks) {
    for (const Span& s : track.spans) {
      if (s.iteration >= 0) extend(tagged, track.info.rank, s.iteration, s);
    }
  }
  if (!tagged.empty()) return to_windows(IterationSource::SpanTags, tagged);

  // Kineto: the names are interned, so find the ids of "ProfilerStep#N" strings once.
  std::map<std::uint32_t, std::int32_t> step_of_name;
  for (std::uint32_t id = 0; id < trace.strings.size(); ++id) {
    const std::string_view name = trace.strings.view(id);
    if (!name.starts_with(kProfilerStepPrefix)) continue;
    const std::string_view digits = name.substr(kProfilerStepPrefix.size());
    std::int32_t step = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
    if (ec == std::errc() && end == digits.data() + digits.size()) step_of_name.emplace(id, step);
  }
  std::map<std::pair<std::int32_t, std::int32_t>, Interval> steps;
  if (!step_of_name.empty()) {
    for (const Track& track : trace.tracks) {
      for (const Span& s : track.spans) {
        if (auto it = step_of_name.find(s.name); it != step_of_name.end()) extend(steps, track.info.rank, it->second, s);
      }
    }
  }
  if (!steps.empty()) return to_windows(IterationSource::ProfilerSteps, steps);
  return {};
}

std::vector<IterationTime> iteration_times(const IterationWindows& windows) {
  std::map<std::int32_t, Interval> across_ranks;
  for (const IterationWindow& w : windows.windows) {
    auto [it, inserted] = across_ranks.try_emplace(w.iteration, w.window);
    if (!inserted) {
      it->second.start = std::min(it->second.start, w.window.start);
      it->second.end = std::max(it->second.end, w.window.end);
    }
  }
  std::vector<IterationTime> out;
  for (const auto& [iteration, window] : across_ranks) out.push_back(IterationTime{iteration, window.length()});
  return out;
}

std::int64_t median_iteration_ns(const Trace& trace) {
  const std::vector<IterationTime> times = iteration_times(find_iterations(trace));
  if (times.empty()) return trace.end_ns() - trace.begin_ns();
  std::vector<std::int64_t> d;
  for (const IterationTime& t : times) d.push_back(t.duration_ns);
  std::sort(d.begin(), d.end());
  const std::size_t n = d.size();
  // Even count: the mean of the two middle values (the usual median).
  return n % 2 == 1 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
}

}  // namespace scmoe::prof::analysis
