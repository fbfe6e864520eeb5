// Host-side span capture: cheap RAII spans recorded from many threads at once.
//
// Each thread appends to its own buffer (found through a thread_local cache), so the hot path takes no
// global lock: one steady_clock read at construction, one at destruction, one push_back under the
// buffer's own mutex, which only collect() ever contends for. collect() drains every buffer into a
// prof::Trace; it may be called repeatedly (e.g. once per iteration) while threads keep recording.
//
// Timestamps are std::chrono::steady_clock nanoseconds (HostCollector::now_ns()); the CUPTI collector
// converts GPU timestamps into this same domain so host and device spans share one clock.
//
// Usage:
//   prof::capture::HostCollector collector;
//   const auto lane = collector.track(/*rank=*/0, prof::TrackKind::ComputeLane, "compute");
//   const auto gate = collector.intern("gate");
//   {
//     prof::capture::HostSpan span(collector, lane, gate, prof::Category::Gate, layer, iteration);
//     ... work ...
//   }  // recorded here
//   collector.add_span(comm, a2a, prof::Category::Dispatch, t0, t1, layer, iteration, op, prof::kSpanEmulated);
//   collector.add_flow({comm, a2a, layer, iteration, op}, {lane, expert, layer, iteration, op});  // dependency
//   prof::Trace trace = collector.collect();
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::capture {

// Index of a track registered with HostCollector::track(); equals the track's index in collected traces.
using HostTrackId = std::uint32_t;
// Id of a name interned with HostCollector::intern(); equals the string id in collected traces.
using HostNameId = std::uint32_t;

// Names a recorded span by its labels, for flows between spans recorded on different threads (the engine
// knows the track, op name, layer, iteration and op instance of both ends of a dependency).
struct HostSpanKey {
  HostTrackId track = 0;
  HostNameId name = 0;
  std::int32_t layer = kNoIndex;
  std::int32_t iteration = kNoIndex;
  std::int32_t op_instance = kNoIndex;
  bool operator==(const HostSpanKey&) const = default;
};

class HostCollector {
 public:
  HostCollector();
  ~HostCollector();
  HostCollector(const HostCollector&) = delete;
  HostCollector& operator=(const HostCollector&) = delete;

  // The clock every host span uses: steady_clock, in nanoseconds.
  static std::int64_t now_ns();

  // Registers a track (or returns the id of an identical one). Thread-safe; takes a lock, so call it once
  // per lane at set-up, not per span.
  HostTrackId track(const TrackInfo& info);
  HostTrackId track(std::int32_t rank, TrackKind kind, std::string name);
  // Interns an operator name. Thread-safe; takes a lock, so cache the id rather than calling per span.
  HostNameId intern(std::string_view name);

  // Records a span with explicit times (e.g. the time an emulated link holds the comm lane). Lock-free
  // with respect to other threads. end_ns < start_ns is clamped to a zero-length span at start_ns.
  void add_span(HostTrackId track, HostNameId name, Category category, std::int64_t start_ns,
                std::int64_t end_ns, std::int32_t layer = kNoIndex, std::int32_t iteration = kNoIndex,
                std::int32_t op_instance = kNoIndex, std::uint8_t flags = 0);

  // Records a dependency between two spans (dispatch -> expert -> combine, a lane waiting on another),
  // which the critical path follows. Lock-free like add_span. Resolved by collect(): both ends must be
  // among the spans that collect() hands over (if several spans share a key, the earliest is meant);
  // flows it cannot resolve are dropped and counted in the trace's metadata "unresolved_flows".
  void add_flow(const HostSpanKey& from, const HostSpanKey& to, FlowKind kind = FlowKind::MoePipeline);

  // Moves every span recorded so far into a new Trace (tracks in registration order, all names, spans
  // sorted per track by Trace::finalize()). Spans still open (HostSpan not yet destroyed) appear in a
  // later collect(). Thread-safe.
  Trace collect();

  // Spans recorded and not yet collected (for tests and progress displays).
  std::size_t pending_spans() const;

 private:
  friend class HostSpan;
  struct Record;
  struct FlowRecord;
  struct ThreadBuffer;
  ThreadBuffer& buffer_for_this_thread();
  void push(ThreadBuffer& buffer, HostTrackId track, const Span& span);
  static void resolve_flows(const std::vector<FlowRecord>& flows, Trace& trace);

  const std::uint64_t generation_;  // unique per collector, so thread caches never confuse two of them
  mutable std::mutex registry_mutex_;  // guards tracks_, strings_, buffers_ (set-up paths only)
  std::vector<TrackInfo> tracks_;
  StringTable strings_;
  std::vector<std::unique_ptr<ThreadBuffer>> buffers_;
};

// RAII span: starts at construction, recorded on destruction (or at end()). Nested HostSpans on one
// thread get increasing Span::depth. Not copyable or movable: it belongs to the scope it measures.
class HostSpan {
 public:
  HostSpan(HostCollector& collector, HostTrackId track, HostNameId name, Category category,
           std::int32_t layer = kNoIndex, std::int32_t iteration = kNoIndex,
           std::int32_t op_instance = kNoIndex, std::uint8_t flags = 0);
  ~HostSpan();
  HostSpan(const HostSpan&) = delete;
  HostSpan& operator=(const HostSpan&) = delete;

  void add_flags(std::uint8_t flags) { span_.flags |= flags; }
  // Ends the span now instead of at scope exit; later calls and the destructor do nothing.
  void end();

 private:
  HostCollector::ThreadBuffer* buffer_;
  HostCollector* collector_;
  HostTrackId track_;
  Span span_;
  bool open_ = true;
};

}  // namespace scmoe::prof::capture
