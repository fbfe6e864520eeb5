// Critical path: the longest chain of dependent spans, where a span depends on the span before it on
// its track (a stream or lane runs in order) and on the source of every flow into it (kernel launch,
// dispatch -> expert -> combine). Length is the sum of the chain's span durations; the share of that
// which is communication tells whether shortening the All-to-All would shorten the iteration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::analysis {

struct CriticalPathOptions {
  // Only this iteration: the spans tagged with it (engine traces), or, in traces marked with
  // "ProfilerStep#N" ranges, the spans that start inside step N's range of their rank. Empty: all spans.
  std::optional<std::int32_t> iteration;
  TrackSelection tracks = TrackSelection::Auto;
};

struct CriticalPath {
  std::vector<SpanRef> chain;   // in dependency order
  std::int64_t length_ns = 0;   // sum of the durations along the chain
  std::int64_t comm_ns = 0;     // the part of length_ns spent in communication spans
  double comm_share() const { return length_ns > 0 ? double(comm_ns) / double(length_ns) : 0.0; }
  std::string error;            // non-empty when the flows form a cycle (no longest path exists)
};

// Only top-level spans (depth 0) take part: a nested host span is inside its parent, not after it.
// O(spans + flows).
CriticalPath critical_path(const Trace& trace, const CriticalPathOptions& options = {});

}  // namespace scmoe::prof::analysis
