// Where the iterations of a trace are. Engine traces tag every span with Span::iteration; imported
// PyTorch-profiler traces mark each step with a "ProfilerStep#N" annotation on a host thread; other
// traces have no iterations and are analysed as one whole.
#pragma once

#include <cstdint>
#include <vector>

#include "scmoe/profiler/analysis/intervals.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::analysis {

enum class IterationSource : std::uint8_t {
  None,           // no iteration information: whole trace only
  SpanTags,       // Span::iteration >= 0 on some spans
  ProfilerSteps,  // "ProfilerStep#N" spans (Kineto)
};

struct IterationWindow {
  std::int32_t rank = 0;
  std::int32_t iteration = 0;
  Interval window;  // SpanTags: extent of the rank's spans tagged with this iteration
};

struct IterationWindows {
  IterationSource source = IterationSource::None;
  std::vector<IterationWindow> windows;  // sorted by (rank, iteration)
};

IterationWindows find_iterations(const Trace& trace);

// Wall time of each iteration across all ranks (latest end - earliest start), sorted by iteration.
struct IterationTime {
  std::int32_t iteration = 0;
  std::int64_t duration_ns = 0;
};
std::vector<IterationTime> iteration_times(const IterationWindows& windows);

// Median of the iteration times; the whole trace's extent when there are no iterations. 0 if empty.
std::int64_t median_iteration_ns(const Trace& trace);

}  // namespace scmoe::prof::analysis
