// The trace model every part of ScMoE Studio shares: Trace -> tracks (one per rank/device/stream or
// lane) -> spans. Plain data, no Qt, no LibTorch. Spans are compact (40 bytes) so ten million fit in
// well under a gigabyte; names are interned, args live in a side table, flows link spans.
#pragma once

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <span>
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
  // The training pass an annotation around the span names (classify.h: apply_phase_annotations); at most one.
  kSpanForward = 1u << 3,
  kSpanBackward = 1u << 4,
  kSpanWeightGrad = 1u << 5,
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
// common span without args costs nothing. Values are text; a value points into its ArgTable's storage.
struct Arg {
  Arg() = default;
  Arg(std::uint32_t key_id, std::string_view text)
      : data(text.data()), size(static_cast<std::uint32_t>(text.size())), key(key_id) {}
  std::string_view value() const { return {data, size}; }

  const char* data = nullptr;
  std::uint32_t size = 0;
  std::uint32_t key = 0;  // string id
};
static_assert(sizeof(Arg) == 16, "Kineto traces carry ~7 args per span: keep them small");

// Every span's arg list in one table. Importers add a list per span, millions of them; a vector and heap
// strings per list (the first layout), or one growing vector of args, made allocation and the page faults
// of fresh memory the largest cost of a first JSON import. Here args fill fixed segments and texts fill
// blocks (both up to 2 MiB, huge-page aligned), allocated once and never moved or copied; a list is
// contiguous within one segment.
class ArgTable {
 public:
  ArgTable() = default;
  // A copy packs the texts into its own blocks (its args must not point into the source's).
  ArgTable(const ArgTable& other);
  ArgTable& operator=(const ArgTable& other);
  // Moving keeps segments and blocks where they are, so every list stays valid; the source is left empty.
  ArgTable(ArgTable&& other) noexcept { swap(other); }
  ArgTable& operator=(ArgTable&& other) noexcept {
    ArgTable(std::move(other)).swap(*this);
    return *this;
  }
  void swap(ArgTable& other) noexcept;

  std::size_t size() const { return lists_.size(); }
  bool empty() const { return lists_.empty(); }
  std::span<const Arg> operator[](std::uint32_t list) const { return {lists_[list].first, lists_[list].size}; }

  // Appends a list (values copied into the table); returns its index.
  std::uint32_t add(std::span<const Arg> list);
  std::uint32_t add(std::initializer_list<Arg> list) { return add(std::span<const Arg>(list.begin(), list.size())); }
  // The same, one arg at a time: push the args, then close the list.
  void push(std::uint32_t key, std::string_view value);
  std::uint32_t close_list();
  // Moves other's lists after this table's, their keys mapped through key_map (other's string id -> this
  // trace's); other's storage moves along, nothing is copied.
  void append(ArgTable&& other, const std::vector<std::uint32_t>& key_map);
  void reserve_lists(std::size_t lists) { lists_.reserve(lists); }
  std::size_t memory_bytes() const;

 private:
  struct FreeBytes {
    void operator()(void* p) const noexcept;
  };
  using Storage = std::unique_ptr<void, FreeBytes>;
  struct ListRef {
    Arg* first = nullptr;
    std::uint32_t size = 0;
  };
  Storage allocate(std::size_t bytes);
  std::string_view store(std::string_view text);
  void new_segment(std::size_t at_least);

  std::vector<ListRef> lists_;
  std::vector<Storage> storage_;  // segments and text blocks; their order does not matter
  std::size_t storage_bytes_ = 0;
  Arg* segment_ = nullptr;        // the segment being filled: args [0, fill_) are used,
  std::size_t fill_ = 0;          // [open_, fill_) belong to the list not yet closed
  std::size_t open_ = 0;
  std::size_t capacity_ = 0;
  std::size_t next_segment_ = 0;  // args per segment: grows to kMaxSegment
  char* text_ = nullptr;          // free space in the current text block
  std::size_t text_left_ = 0;
  std::size_t next_block_ = 0;
};

struct RankInfo {
  std::int32_t rank = 0;
  std::string label;        // "rank 0" or host name / file it came from
};

class Trace {
 public:
  StringTable strings;
  std::vector<Track> tracks;
  ArgTable args;
  std::vector<Flow> flows;
  std::vector<RankInfo> ranks;
  std::vector<std::pair<std::string, std::string>> metadata;  // config, machine, versions, source
  std::uint64_t dropped_records = 0;  // capture records lost (CUPTI buffer overflow ...); never silent

  // Returns the index of the track with this identity, creating it if needed.
  std::uint32_t track_for(const TrackInfo& info);
  // Adds a span's arg list; kNoArgs for an empty one.
  std::uint32_t add_args(std::span<const Arg> list);
  std::uint32_t add_args(std::initializer_list<Arg> list) { return add_args(std::span<const Arg>(list.begin(), list.size())); }
  std::size_t span_count() const;
  // Sorts every track's spans by start time (stable) and rewrites flows to the new positions.
  void finalize();
  std::int64_t begin_ns() const;  // earliest span start, 0 for an empty trace
  std::int64_t end_ns() const;    // latest span end, 0 for an empty trace
  std::string_view name_of(const Span& s) const { return strings.view(s.name); }
};

}  // namespace scmoe::prof
