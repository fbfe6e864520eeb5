#include "scmoe/profiler/capture/host_collector.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <unordered_map>

namespace scmoe::prof::capture {

struct HostCollector::Record {
  HostTrackId track;
  Span span;
};

struct HostCollector::FlowRecord {
  HostSpanKey from;
  HostSpanKey to;
  FlowKind kind;
};

struct HostCollector::ThreadBuffer {
  explicit ThreadBuffer(std::thread::id owner_id) : owner(owner_id) {}
  const std::thread::id owner;
  std::mutex mutex;  // contended only by collect(); the owning thread is the only writer
  std::vector<Record> records;
  std::vector<FlowRecord> flows;
  std::uint16_t open_depth = 0;  // HostSpans currently open on the owning thread (owner-only)
};

namespace {

std::atomic<std::uint64_t> g_next_generation{1};

// A few (collector generation -> buffer) pairs per thread: the hot path finds its buffer without any
// lock. Generations are never reused, so an entry of a destroyed collector simply never matches again.
struct ThreadCache {
  static constexpr std::size_t kSlots = 4;
  std::array<std::uint64_t, kSlots> generation{};
  std::array<void*, kSlots> buffer{};
  std::size_t next_victim = 0;
};
thread_local ThreadCache t_cache;

}  // namespace

HostCollector::HostCollector() : generation_(g_next_generation.fetch_add(1)) {}
HostCollector::~HostCollector() = default;

std::int64_t HostCollector::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

HostTrackId HostCollector::track(const TrackInfo& info) {
  std::lock_guard lock(registry_mutex_);
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    const TrackInfo& t = tracks_[i];
    if (t.rank == info.rank && t.device == info.device && t.device_kind == info.device_kind &&
        t.kind == info.kind && t.native_id == info.native_id && t.name == info.name) {
      return static_cast<HostTrackId>(i);
    }
  }
  tracks_.push_back(info);
  return static_cast<HostTrackId>(tracks_.size() - 1);
}

HostTrackId HostCollector::track(std::int32_t rank, TrackKind kind, std::string name) {
  TrackInfo info;
  info.rank = rank;
  info.kind = kind;
  info.name = std::move(name);
  return track(info);
}

HostNameId HostCollector::intern(std::string_view name) {
  std::lock_guard lock(registry_mutex_);
  return strings_.intern(name);
}

HostCollector::ThreadBuffer& HostCollector::buffer_for_this_thread() {
  for (std::size_t i = 0; i < ThreadCache::kSlots; ++i) {
    if (t_cache.generation[i] == generation_) return *static_cast<ThreadBuffer*>(t_cache.buffer[i]);
  }
  // Slow path, once per (thread, collector): find or create this thread's buffer under the registry lock.
  ThreadBuffer* found = nullptr;
  {
    std::lock_guard lock(registry_mutex_);
    const auto self = std::this_thread::get_id();
    for (auto& b : buffers_) {
      if (b->owner == self) found = b.get();
    }
    if (found == nullptr) found = buffers_.emplace_back(std::make_unique<ThreadBuffer>(self)).get();
  }
  const std::size_t slot = t_cache.next_victim;
  t_cache.next_victim = (slot + 1) % ThreadCache::kSlots;
  t_cache.generation[slot] = generation_;
  t_cache.buffer[slot] = found;
  return *found;
}

void HostCollector::push(ThreadBuffer& buffer, HostTrackId track, const Span& span) {
  std::lock_guard lock(buffer.mutex);
  buffer.records.push_back(Record{track, span});
}

void HostCollector::add_span(HostTrackId track, HostNameId name, Category category, std::int64_t start_ns,
                             std::int64_t end_ns, std::int32_t layer, std::int32_t iteration,
                             std::int32_t op_instance, std::uint8_t flags) {
  Span span;
  span.start_ns = start_ns;
  span.end_ns = std::max(start_ns, end_ns);
  span.name = name;
  span.layer = layer;
  span.iteration = iteration;
  span.op_instance = op_instance;
  span.category = category;
  span.flags = flags;
  push(buffer_for_this_thread(), track, span);
}

void HostCollector::add_flow(const HostSpanKey& from, const HostSpanKey& to, FlowKind kind) {
  ThreadBuffer& buffer = buffer_for_this_thread();
  std::lock_guard lock(buffer.mutex);
  buffer.flows.push_back(FlowRecord{from, to, kind});
}

Trace HostCollector::collect() {
  std::vector<Record> drained;
  std::vector<FlowRecord> drained_flows;
  Trace trace;
  {
    std::lock_guard lock(registry_mutex_);
    // Same ids as in the collector: intern in id order into the empty table.
    for (std::uint32_t id = 0; id < strings_.size(); ++id) trace.strings.intern(strings_.view(id));
    for (const TrackInfo& info : tracks_) trace.tracks.push_back(Track{info, {}});
    for (auto& buffer : buffers_) {
      std::lock_guard buffer_lock(buffer->mutex);
      drained.insert(drained.end(), buffer->records.begin(), buffer->records.end());
      buffer->records.clear();
      drained_flows.insert(drained_flows.end(), buffer->flows.begin(), buffer->flows.end());
      buffer->flows.clear();
    }
  }
  std::int32_t max_rank = -1;
  for (const Track& t : trace.tracks) max_rank = std::max(max_rank, t.info.rank);
  for (std::int32_t r = 0; r <= max_rank; ++r) trace.ranks.push_back(RankInfo{r, "rank " + std::to_string(r)});
  for (const Record& r : drained) trace.tracks[r.track].spans.push_back(r.span);
  trace.metadata.emplace_back("source", "host collector");
  trace.finalize();
  if (!drained_flows.empty()) resolve_flows(drained_flows, trace);
  return trace;
}

void HostCollector::resolve_flows(const std::vector<FlowRecord>& flows, Trace& trace) {
  struct KeyHash {
    std::size_t operator()(const HostSpanKey& k) const {
      std::size_t h = k.track;
      for (std::uint64_t v : {std::uint64_t(k.name), std::uint64_t(std::uint32_t(k.layer)),
                              std::uint64_t(std::uint32_t(k.iteration)), std::uint64_t(std::uint32_t(k.op_instance))}) {
        h = h * 1000003u ^ std::hash<std::uint64_t>{}(v);
      }
      return h;
    }
  };
  // Spans are sorted by start now, so the first span seen with a key is the earliest.
  std::unordered_map<HostSpanKey, SpanRef, KeyHash> span_of;
  for (std::uint32_t ti = 0; ti < trace.tracks.size(); ++ti) {
    const std::vector<Span>& spans = trace.tracks[ti].spans;
    for (std::uint32_t si = 0; si < spans.size(); ++si) {
      const Span& s = spans[si];
      span_of.try_emplace(HostSpanKey{ti, s.name, s.layer, s.iteration, s.op_instance}, SpanRef{ti, si});
    }
  }
  std::size_t unresolved = 0;
  for (const FlowRecord& f : flows) {
    const auto from = span_of.find(f.from), to = span_of.find(f.to);
    if (from == span_of.end() || to == span_of.end()) {
      ++unresolved;
      continue;
    }
    trace.flows.push_back(Flow{from->second, to->second, f.kind});
  }
  if (unresolved > 0) trace.metadata.emplace_back("unresolved_flows", std::to_string(unresolved));
}

std::size_t HostCollector::pending_spans() const {
  std::lock_guard lock(registry_mutex_);
  std::size_t n = 0;
  for (const auto& buffer : buffers_) {
    std::lock_guard buffer_lock(buffer->mutex);
    n += buffer->records.size();
  }
  return n;
}

HostSpan::HostSpan(HostCollector& collector, HostTrackId track, HostNameId name, Category category,
                   std::int32_t layer, std::int32_t iteration, std::int32_t op_instance, std::uint8_t flags)
    : buffer_(&collector.buffer_for_this_thread()), collector_(&collector), track_(track) {
  span_.name = name;
  span_.layer = layer;
  span_.iteration = iteration;
  span_.op_instance = op_instance;
  span_.category = category;
  span_.flags = flags;
  span_.depth = buffer_->open_depth++;
  span_.start_ns = HostCollector::now_ns();
}

HostSpan::~HostSpan() { end(); }

void HostSpan::end() {
  if (!open_) return;
  open_ = false;
  span_.end_ns = HostCollector::now_ns();
  --buffer_->open_depth;
  collector_->push(*buffer_, track_, span_);
}

}  // namespace scmoe::prof::capture
