// The trace model every part of ScMoE Studio shares: Trace -> tracks (one per rank/device/stream or
// lane) -> spans. Plain data, no Qt, no LibTorch. Spans are compact (40 bytes) so ten million fit in
// well under a gigabyte; names are interned, args live in a side table, flows link spans.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace scmoe::prof {

// What an operation is, as far as overlap analysis and colouring are concerned.
enum class Category : std::uint8_t {
  Attention,
  Mlp,
  Expert,
  SharedExpert,
  Gate,
  Encode,
  Decode,
  Dispatch,
  Combine,
  OtherComm,
  Memcpy,
  Memset,
  Other,
};
inline constexpr int kCategoryCount = 13;

std::string_view category_name(Category c);
std::optional<Category> category_from_name(std::string_view name);
// Communication: dispatch, combine, other_comm. Computation: everything that runs on an SM and is not
// communication (memcpy/memset are neither: they are copy-engine work).
bool is_communication(Category c);
bool is_computation(Category c);

enum SpanFlag : std::uint8_t {
  kSpanEmulated = 1u << 0,   // time modelled by the emulated link, not measured
  kSpanDropped = 1u << 1,    // tokens were dropped by the capacity rule inside this op
  kSpanPredicted = 1u << 2,  // produced by the cost model, not by a run
};

inline constexpr std::uint32_t kNoArgs = std::numeric_limits<std::uint32_t>::max();
inline constexpr std::int32_t kNoIndex = -1;

// One timed operation on one track. start/end in nanoseconds on the trace's clock.
struct Span {
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  std::uint32_t name = 0;          // id in Trace::strings
  std::uint32_t args = kNoArgs;    // index into Trace::args, or kNoArgs
  std::int32_t layer = kNoIndex;   // model layer, or -1
  std::int32_t iteration = kNoIndex;
  std::int32_t op_instance = kNoIndex;  // which op of the layer (engine annotation), or -1
  Category category = Category::Other;
  std::uint8_t flags = 0;
  std::uint16_t depth = 0;         // nesting depth for host/CPU spans (0 = top level)

  std::int64_t duration_ns() const { return end_ns - start_ns; }
  bool has_flag(SpanFlag f) const { return (flags & f) != 0; }
};
static_assert(sizeof(Span) <= 40, "keep the span compact: ten million must fit comfortably in memory");

enum class DeviceKind : std::uint8_t { Cpu, Gpu };
enum class TrackKind : std::uint8_t {
  ComputeLane,  // engine compute lane (CPU worker or CUDA stream)
  CommLane,     // engine communication lane
  CopyLane,     // engine host<->device copy lane
  CudaStream,   // a CUDA stream seen by CUPTI or an imported trace
  HostThread,   // a CPU thread (host spans, CPU ops)
  Annotation,   // user / NVTX / profiler ranges that label other tracks' work; not work themselves, so
                // overlap analysis should skip them (Kineto user_annotation, gpu_user_annotation, Trace)
};

struct TrackInfo {
  std::int32_t rank = 0;
  std::int32_t device = 0;       // GPU ordinal, or 0 for the host
  DeviceKind device_kind = DeviceKind::Cpu;
  TrackKind kind = TrackKind::HostThread;
  std::int64_t native_id = 0;    // CUDA stream id or OS thread id
  std::string name;              // what the timeline shows, e.g. "stream 7" or "compute"
};

struct Track {
  TrackInfo info;
  std::vector<Span> spans;       // sorted by start_ns after Trace::finalize()
};

// Link between two spans: a launch and its kernel, or dispatch -> expert -> combine of one op.
struct SpanRef {
  std::uint32_t track = 0;
  std::uint32_t span = 0;
  bool operator==(const SpanRef&) const = default;
};
enum class FlowKind : std::uint8_t { Launch, MoePipeline, Other };
struct Flow {
  SpanRef from;
  SpanRef to;
  FlowKind kind = FlowKind::Other;
};

// Interned strings: every distinct name is stored once; ids are dense from 0.
class StringTable {
 public:
  StringTable() = default;
  // A copy re-points its index at its own strings (the implicit copy would keep views into the source's).
  StringTable(const StringTable& other);
  StringTable& operator=(const StringTable& other);
  // Moving a deque keeps its elements where they are, so the index stays valid.
  StringTable(StringTable&&) noexcept = default;
  StringTable& operator=(StringTable&&) noexcept = default;

  std::uint32_t intern(std::string_view s);
  std::string_view view(std::uint32_t id) const { return strings_[id]; }
  std::size_t size() const { return strings_.size(); }
  std::optional<std::uint32_t> find(std::string_view s) const;

 private:
  std::deque<std::string> strings_;  // deque: elements never move, so the views in index_ stay valid
  std::unordered_map<std::string_view, std::uint32_t> index_;
};

// Key/value arguments of spans (kernel grid, collective sizes, ...), stored apart from the spans so the
// common span without args costs nothing.
struct Arg {
  std::uint32_t key = 0;    // string id
  std::string value;
};
using ArgList = std::vector<Arg>;

struct RankInfo {
  std::int32_t rank = 0;
  std::string label;        // "rank 0" or host name / file it came from
};

class Trace {
 public:
  StringTable strings;
  std::vector<Track> tracks;
  std::vector<ArgList> args;
  std::vector<Flow> flows;
  std::vector<RankInfo> ranks;
  std::vector<std::pair<std::string, std::string>> metadata;  // config, machine, versions, source
  std::uint64_t dropped_records = 0;  // capture records lost (CUPTI buffer overflow ...); never silent

  // Returns the index of the track with this identity, creating it if needed.
  std::uint32_t track_for(const TrackInfo& info);
  std::uint32_t add_args(ArgList list);
  std::size_t span_count() const;
  // Sorts every track's spans by start time (stable) and rewrites flows to the new positions.
  void finalize();
  std::int64_t begin_ns() const;  // earliest span start, 0 for an empty trace
  std::int64_t end_ns() const;    // latest span end, 0 for an empty trace
  std::string_view name_of(const Span& s) const { return strings.view(s.name); }
};

}  // namespace scmoe::prof
