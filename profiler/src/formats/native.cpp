#include "scmoe/profiler/formats/native.h"

#include <sys/mman.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>
#include <cstring>
#include <numeric>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <bit>

#include "scmoe/profiler/formats/atomic_file.h"
#include "scmoe/profiler/huge_pages.h"

namespace scmoe::prof::formats {

static_assert(std::endian::native == std::endian::little, "the native format is little-endian");

namespace {

constexpr std::uint32_t tag(const char (&t)[5]) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(t[0])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(t[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(t[2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(t[3])) << 24;
}
constexpr std::uint64_t kMaxPayload = 1ull << 40;
constexpr std::uint32_t kStrings = tag("STRS"), kRanks = tag("RANK"), kMeta = tag("META"), kDropped = tag("DROP"),
                        kArgs = tag("ARGS"), kTracks = tag("TRKS"), kBlocks = tag("BLKS"), kFlows = tag("FLOW"),
                        kEnd = tag("END ");

// ---- writing ----

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put_string(std::string_view s) {
    put(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  // One column: a field of every span, written contiguously.
  template <typename T, typename F>
  void put_column(const Span* spans, std::size_t n, F field) {
    const std::size_t at = out_.size();
    out_.resize(at + n * sizeof(T));
    char* p = out_.data() + at;
    for (const Span* s = spans; s != spans + n; ++s) {
      const T v = field(*s);
      std::memcpy(p, &v, sizeof v);
      p += sizeof v;
    }
  }

 private:
  std::string& out_;
};

// ---- reading ----

class Reader {
 public:
  Reader(std::string_view data, std::string& error) : data_(data), error_(error) {}
  bool ok() const { return error_.empty(); }
  std::size_t offset() const { return pos_; }
  bool fail(std::string_view expected) {
    if (error_.empty()) error_ = "payload byte " + std::to_string(pos_) + ": expected " + std::string(expected);
    return false;
  }
  template <typename T>
  bool get(T& v, std::string_view what) {
    if (!ok()) return false;
    if (data_.size() - pos_ < sizeof(T)) return fail(what);
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_string(std::string_view& s, std::string_view what) {
    std::uint32_t len = 0;
    if (!get(len, what)) return false;
    if (data_.size() - pos_ < len) return fail(std::string(what) + " (" + std::to_string(len) + " bytes)");
    s = data_.substr(pos_, len);
    pos_ += len;
    return true;
  }
  bool expect_tag(std::uint32_t t, std::string_view name) {
    const std::size_t at = pos_;
    std::uint32_t got = 0;
    if (!get(got, std::string("section ") + std::string(name))) return false;
    if (got != t) {
      pos_ = at;
      return fail("section " + std::string(name));
    }
    return true;
  }
  // A column of `count` values of T: returns a pointer into the payload, or null.
  template <typename T>
  const char* column(std::uint64_t count, std::string_view what) {
    if (!ok()) return nullptr;
    if (count > (data_.size() - pos_) / sizeof(T)) {
      fail(std::string(what) + " column of " + std::to_string(count) + " values");
      return nullptr;
    }
    const char* p = data_.data() + pos_;
    pos_ += count * sizeof(T);
    return p;
  }
  // Counts are checked against the bytes left before anything is allocated for them.
  bool count(std::uint64_t& n, std::size_t min_bytes_each, std::string_view what) {
    if (!get(n, what)) return false;
    if (min_bytes_each > 0 && n > (data_.size() - pos_) / min_bytes_each) {
      pos_ -= sizeof n;
      return fail(std::string(what) + " no larger than the bytes left");
    }
    return true;
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
  std::string& error_;
};

// The decompressed payload. Address space for the size the header claims is reserved with mmap but only
// pages actually written are committed, so a damaged header cannot make us allocate memory the data does
// not fill; huge pages make filling it cheap.
class PayloadBuffer {
 public:
  explicit PayloadBuffer(std::size_t size) : size_(size) {
    if (size_ == 0) return;
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    advise_huge_pages(data_, size_);
  }
  ~PayloadBuffer() {
    if (data_) ::munmap(data_, size_);
  }
  PayloadBuffer(const PayloadBuffer&) = delete;
  PayloadBuffer& operator=(const PayloadBuffer&) = delete;
  char* data() { return data_; }

 private:
  std::size_t size_;
  char* data_ = nullptr;
};

template <typename T>
T load(const char* p, std::size_t i) {
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}

// Bytes per span in the column layout (starts, durations, names, args, layers, iterations, op instances,
// categories, flags, depths).
constexpr std::size_t kSpanBytes = 8 + 8 + 4 + 4 + 4 + 4 + 4 + 1 + 1 + 2;
// Version 2 cuts every track's spans into blocks of this many, each its own zstd frame.
constexpr std::uint32_t kBlockSpans = 8192;
constexpr std::uint32_t kMaxBlockSpans = 1u << 24;
// zstd cannot expand a frame by more than this (an RLE block: 4 bytes for 128 KiB); blocks that claim
// more spans than their bytes could hold are rejected before any memory is allocated for them.
constexpr std::uint64_t kMaxZstdExpansion = 1u << 15;

struct SpanLimits {
  std::uint64_t string_count = 0;
  std::uint64_t arg_count = 0;
};

// Writes the columns of `n` spans (start deltas from 0 at the first span) into `out`. Validation is done
// in bulk: returns false if any span is bad, and first_bad_span() then says which and why.
bool columns_to_spans(const char* p, std::size_t n, Span* out, const SpanLimits& limits) {
  const char* starts = p;
  const char* durations = starts + 8 * n;
  const char* names = durations + 8 * n;
  const char* args = names + 4 * n;
  const char* layers = args + 4 * n;
  const char* iterations = layers + 4 * n;
  const char* instances = iterations + 4 * n;
  const char* categories = instances + 4 * n;
  const char* flags = categories + n;
  const char* depths = flags + n;
  std::uint64_t start = 0;  // deltas add up modulo 2^64: any int64 sequence round-trips
  bool bad_time = false, bad_args = false;
  std::uint32_t max_name = 0;
  std::uint8_t max_category = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Span& s = out[i];
    start += load<std::uint64_t>(starts, i);
    s.start_ns = static_cast<std::int64_t>(start);
    const auto duration = load<std::int64_t>(durations, i);
    bad_time |= duration < 0;
    bad_time |= __builtin_add_overflow(s.start_ns, duration, &s.end_ns);
    s.name = load<std::uint32_t>(names, i);
    max_name = std::max(max_name, s.name);
    s.args = load<std::uint32_t>(args, i);
    bad_args |= s.args != kNoArgs && s.args >= limits.arg_count;
    s.layer = load<std::int32_t>(layers, i);
    s.iteration = load<std::int32_t>(iterations, i);
    s.op_instance = load<std::int32_t>(instances, i);
    const auto category = load<std::uint8_t>(categories, i);
    max_category = std::max(max_category, category);
    s.category = static_cast<Category>(category);
    s.flags = load<std::uint8_t>(flags, i);
    s.depth = load<std::uint16_t>(depths, i);
  }
  return n == 0 || (!bad_time && !bad_args && max_name < limits.string_count && max_category < kCategoryCount);
}

// The first span columns_to_spans() rejected: its index, and what was expected.
std::string first_bad_span(const char* p, std::size_t n, const SpanLimits& limits, std::size_t& index) {
  std::uint64_t start = 0;
  for (index = 0; index < n; ++index) {
    start += load<std::uint64_t>(p, index);
    const auto duration = load<std::int64_t>(p + 8 * n, index);
    std::int64_t end = 0;
    if (duration < 0 || __builtin_add_overflow(static_cast<std::int64_t>(start), duration, &end)) {
      return "a non-negative duration within int64";
    }
    if (load<std::uint32_t>(p + 16 * n, index) >= limits.string_count) return "a name id below the string count";
    const auto args = load<std::uint32_t>(p + 20 * n, index);
    if (args != kNoArgs && args >= limits.arg_count) return "an args index below the arg list count";
    if (load<std::uint8_t>(p + 36 * n, index) >= kCategoryCount) return "a category 0..12";
  }
  return "valid spans";
}

std::string span_error(std::size_t payload_offset, const std::string& what, std::size_t span, std::size_t track) {
  return "payload byte " + std::to_string(payload_offset) + ": expected " + what + " (span " + std::to_string(span) +
         " of track " + std::to_string(track) + ")";
}

// Faults in the pages of [data, data + bytes) with one call instead of one trap per page (Linux 5.14+;
// elsewhere, or when it fails, the pages fault in as they are written).
void prefault(void* data, std::size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  const std::uintptr_t page = 4096;
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)bytes;
#endif
}

// Runs f(i) for i in [0, n) on up to `threads` threads (the caller's included), each taking the next index.
template <typename F>
void parallel_for(std::size_t n, std::size_t threads, F&& f) {
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) f(i);
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < std::min(threads, n); ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads: the ones running (and this one) take the rest
    }
  }
  work();
  for (std::thread& t : pool) t.join();
}

std::size_t worker_threads() {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 16);
}

// The sections both versions share: STRS RANK META DROP ARGS.
bool decode_common(Reader& r, std::string_view payload, Trace& out, SpanLimits& limits, std::string& error) {
  std::uint64_t n = 0;
  if (!r.expect_tag(kStrings, "STRS") || !r.count(n, 4, "string count")) return false;
  const char* lengths = r.column<std::uint32_t>(n, "string length");
  if (!lengths) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint32_t len = load<std::uint32_t>(lengths, i);
    const char* bytes = r.column<char>(len, "string bytes");
    if (!bytes) return false;
    if (out.strings.intern(std::string_view(bytes, len)) != i) {
      return r.fail("distinct strings (string " + std::to_string(i) + " repeats an earlier one)");
    }
  }
  limits.string_count = n;

  if (!r.expect_tag(kRanks, "RANK") || !r.count(n, 8, "rank count")) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    RankInfo info;
    std::string_view label;
    if (!r.get(info.rank, "rank") || !r.get_string(label, "rank label")) return false;
    info.label = label;
    out.ranks.push_back(std::move(info));
  }

  if (!r.expect_tag(kMeta, "META") || !r.count(n, 8, "metadata count")) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string_view key, value;
    if (!r.get_string(key, "metadata key") || !r.get_string(value, "metadata value")) return false;
    out.metadata.emplace_back(key, value);
  }

  if (!r.expect_tag(kDropped, "DROP") || !r.get(out.dropped_records, "dropped record count")) return false;

  if (!r.expect_tag(kArgs, "ARGS") || !r.count(n, 4, "arg list count")) return false;
  out.args = ArgTable();
  out.args.reserve_lists(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint32_t size = 0;
    if (!r.get(size, "arg list size")) return false;
    if (size > (payload.size() - r.offset()) / 8) return r.fail("an arg list size no larger than the bytes left");
    for (std::uint32_t j = 0; j < size; ++j) {
      std::uint32_t key = 0;
      std::string_view value;
      const std::size_t at = r.offset();
      if (!r.get(key, "arg key")) return false;
      if (key >= limits.string_count) {
        error = "payload byte " + std::to_string(at) + ": expected an arg key below " + std::to_string(limits.string_count);
        return false;
      }
      if (!r.get_string(value, "arg value")) return false;
      out.args.push(key, value);
    }
    out.args.close_list();
  }
  limits.arg_count = n;
  return true;
}

bool decode_track_info(Reader& r, TrackInfo& info) {
  std::uint8_t device_kind = 0, kind = 0;
  std::string_view name;
  if (!r.get(info.rank, "track rank") || !r.get(info.device, "track device")) return false;
  if (!r.get(device_kind, "track device kind")) return false;
  if (device_kind > static_cast<std::uint8_t>(DeviceKind::Gpu)) return r.fail("device kind 0 (cpu) or 1 (gpu)");
  if (!r.get(kind, "track kind")) return false;
  if (kind > static_cast<std::uint8_t>(TrackKind::Annotation)) return r.fail("a track kind 0..5");
  if (!r.get(info.native_id, "track native id") || !r.get_string(name, "track name")) return false;
  info.device_kind = static_cast<DeviceKind>(device_kind);
  info.kind = static_cast<TrackKind>(kind);
  info.name = name;
  return true;
}

// FLOW and END. `spans_of(track)` is the span count of a track (the spans may not be decoded yet).
template <typename SpansOf>
bool decode_flows(Reader& r, std::string_view payload, Trace& out, SpansOf spans_of, std::string& error) {
  std::uint64_t n = 0;
  if (!r.expect_tag(kFlows, "FLOW") || !r.count(n, 17, "flow count")) return false;
  out.flows.resize(n);
  for (Flow& f : out.flows) {
    const std::size_t at = r.offset();
    std::uint8_t kind = 0;
    if (!r.get(f.from.track, "flow source track") || !r.get(f.from.span, "flow source span") ||
        !r.get(f.to.track, "flow target track") || !r.get(f.to.span, "flow target span") ||
        !r.get(kind, "flow kind")) {
      return false;
    }
    auto valid = [&](const SpanRef& ref) { return ref.track < out.tracks.size() && ref.span < spans_of(ref.track); };
    if (!valid(f.from) || !valid(f.to) || kind > static_cast<std::uint8_t>(FlowKind::Other)) {
      error = "payload byte " + std::to_string(at) + ": expected a flow between existing spans with kind 0..2";
      return false;
    }
    f.kind = static_cast<FlowKind>(kind);
  }
  if (!r.expect_tag(kEnd, "END")) return false;
  if (r.offset() != payload.size()) return r.fail("the end of the payload");
  return true;
}

// Version 1: one payload, the span columns inline in TRKS.
bool decode_payload_v1(std::string_view payload, Trace& out, std::string& error) {
  Reader r(payload, error);
  SpanLimits limits;
  if (!decode_common(r, payload, out, limits, error)) return false;
  std::uint64_t n = 0;
  if (!r.expect_tag(kTracks, "TRKS") || !r.count(n, 26, "track count")) return false;
  out.tracks.resize(n);
  for (Track& t : out.tracks) {
    if (!decode_track_info(r, t.info)) return false;
    std::uint64_t spans = 0;
    if (!r.count(spans, kSpanBytes, "span count")) return false;
    const std::size_t columns_at = r.offset();
    const char* columns = r.column<char>(spans * kSpanBytes, "span");
    if (!columns) return false;
    t.spans.reserve(spans);
    advise_huge_pages(t.spans.data(), spans * sizeof(Span));
    t.spans.resize(spans);
    if (!columns_to_spans(columns, spans, t.spans.data(), limits)) {
      std::size_t index = 0;
      const std::string what = first_bad_span(columns, spans, limits, index);
      error = span_error(columns_at, what, index, static_cast<std::size_t>(&t - out.tracks.data()));
      return false;
    }
  }
  return decode_flows(r, payload, out, [&](std::uint32_t track) { return out.tracks[track].spans.size(); }, error);
}

// Version 2's meta payload (everything but the spans): STRS RANK META DROP ARGS, TRKS with span counts,
// BLKS (spans per block and each block's compressed size), FLOW, END.
struct BlockPlan {
  std::vector<std::uint64_t> span_counts;  // per track
  std::uint32_t block_spans = kBlockSpans;
  std::vector<std::uint64_t> compressed;  // per block, tracks in order
};

bool decode_meta_v2(std::string_view payload, Trace& out, SpanLimits& limits, BlockPlan& plan, std::string& error) {
  Reader r(payload, error);
  if (!decode_common(r, payload, out, limits, error)) return false;
  std::uint64_t n = 0;
  if (!r.expect_tag(kTracks, "TRKS") || !r.count(n, 26, "track count")) return false;
  out.tracks.resize(n);
  plan.span_counts.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!decode_track_info(r, out.tracks[i].info) || !r.get(plan.span_counts[i], "span count")) return false;
    if (plan.span_counts[i] > std::numeric_limits<std::uint32_t>::max()) return r.fail("at most 2^32-1 spans per track");
  }
  if (!r.expect_tag(kBlocks, "BLKS") || !r.get(plan.block_spans, "spans per block")) return false;
  if (plan.block_spans == 0 || plan.block_spans > kMaxBlockSpans) return r.fail("spans per block 1..2^24");
  std::uint64_t blocks = 0;
  for (const std::uint64_t spans : plan.span_counts) blocks += (spans + plan.block_spans - 1) / plan.block_spans;
  if (!r.count(n, 8, "block count")) return false;
  if (n != blocks) return r.fail(std::to_string(blocks) + " blocks for the tracks' span counts");
  const char* sizes = r.column<std::uint64_t>(n, "block sizes");
  if (!sizes) return false;
  plan.compressed.resize(n);
  std::memcpy(plan.compressed.data(), sizes, n * 8);
  return decode_flows(r, payload, out, [&](std::uint32_t track) { return plan.span_counts[track]; }, error);
}

// Decompresses one whole zstd frame of exactly `expected` bytes. Returns "" or what was wrong.
std::string decompress_exact(ZSTD_DCtx* ctx, std::string_view frame, char* out, std::size_t expected) {
  // One byte of room more than expected: a frame that fills it holds more than it should.
  const std::size_t got = ZSTD_decompressDCtx(ctx, out, expected + 1, frame.data(), frame.size());
  if (ZSTD_isError(got)) {
    if (ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall) {
      return "a frame of " + std::to_string(expected) + " bytes (it holds more)";
    }
    return std::string("a valid zstd frame (") + ZSTD_getErrorName(got) + ")";
  }
  if (got != expected) return "a frame of " + std::to_string(expected) + " bytes, got " + std::to_string(got);
  return "";
}

// The spans of version 2: every block decoded straight into its track's span vector, blocks in parallel.
std::string decode_blocks_v2(std::string_view file, std::size_t blocks_at, std::size_t meta_payload_size,
                             const SpanLimits& limits, const BlockPlan& plan, const std::string& source, Trace& out) {
  struct Block {
    std::uint32_t track;
    std::uint64_t first_span, spans;
    std::size_t file_offset, payload_offset;
  };
  std::vector<Block> blocks;
  blocks.reserve(plan.compressed.size());
  std::vector<std::size_t> first_block(plan.span_counts.size() + 1);  // per track, and the end
  std::size_t file_offset = blocks_at, payload_offset = meta_payload_size;
  for (std::uint32_t t = 0; t < plan.span_counts.size(); ++t) {
    first_block[t] = blocks.size();
    for (std::uint64_t first = 0; first < plan.span_counts[t]; first += plan.block_spans) {
      const std::uint64_t spans = std::min<std::uint64_t>(plan.block_spans, plan.span_counts[t] - first);
      if (blocks.size() == plan.compressed.size()) return source + ": expected as many span blocks as the tracks need";
      const std::uint64_t compressed = plan.compressed[blocks.size()];
      if (compressed > file.size() - file_offset) {
        return source + ": byte " + std::to_string(file_offset) + ": expected a span block of " +
               std::to_string(compressed) + " bytes (file truncated)";
      }
      if (spans * kSpanBytes > (compressed + 64) * kMaxZstdExpansion) {
        return source + ": byte " + std::to_string(file_offset) + ": expected a span block of " + std::to_string(compressed) +
               " bytes to hold " + std::to_string(spans) + " spans (more than zstd can expand it to)";
      }
      blocks.push_back({t, first, spans, file_offset, payload_offset});
      file_offset += compressed;
      payload_offset += spans * kSpanBytes;
    }
  }
  first_block.back() = blocks.size();
  if (file_offset != file.size()) {
    return source + ": byte " + std::to_string(file_offset) + ": expected the end of the file after the last span block";
  }
  const std::size_t threads = blocks.size() >= 2 ? worker_threads() : 1;
  std::mutex mutex;
  std::size_t error_block = blocks.size();  // the first block (in file order) that failed
  std::string error;
  std::atomic<bool> failed{false};
  auto record = [&](std::size_t b, std::string what) {
    failed = true;
    std::lock_guard lock(mutex);
    if (b < error_block) {
      error_block = b;
      error = std::move(what);
    }
  };
  // Each thread decodes a block into a buffer that stays in its cache, checks it and writes the spans in
  // place. Returns false (after recording why) if the block is bad.
  const std::size_t buffer_size = static_cast<std::size_t>(plan.block_spans) * kSpanBytes + 1;
  auto decode_block = [&](std::size_t b, ZSTD_DCtx* ctx, char* buffer, Span* spans) {
    const Block& k = blocks[b];
    const std::string_view frame = file.substr(k.file_offset, plan.compressed[b]);
    if (std::string what = decompress_exact(ctx, frame, buffer, k.spans * kSpanBytes); !what.empty()) {
      record(b, source + ": byte " + std::to_string(k.file_offset) + ": expected " + what + " (span block of track " +
                    std::to_string(k.track) + ")");
      return false;
    }
    if (!columns_to_spans(buffer, k.spans, spans, limits)) {
      std::size_t index = 0;
      const std::string what = first_bad_span(buffer, k.spans, limits, index);
      record(b, source + ": " + span_error(k.payload_offset, what, k.first_span + index, k.track));
      return false;
    }
    return true;
  };
  auto with_decoder = [&](auto&& f) {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::unique_ptr<char[]> buffer(new (std::nothrow) char[buffer_size]);
    if (!ctx || !buffer) {
      record(0, source + ": not enough memory to decode span blocks");
      return;
    }
    f(ctx.get(), buffer.get());
  };
  auto out_of_memory = [&](std::size_t t) {
    record(0, source + ": not enough memory for the " + std::to_string(plan.span_counts[t]) + " spans of track " +
                  std::to_string(t));
  };
  const std::uint64_t total = std::accumulate(plan.span_counts.begin(), plan.span_counts.end(), std::uint64_t{0});
  const std::uint64_t largest =
      plan.span_counts.empty() ? 0 : *std::max_element(plan.span_counts.begin(), plan.span_counts.end());
  std::atomic<std::size_t> next{0};
  if (largest * threads <= total) {
    // No track holds more than a thread's share: each thread takes whole tracks, largest first, and grows
    // each block by block, so a block's spans are initialised and overwritten while in cache.
    std::vector<std::uint32_t> order(out.tracks.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return plan.span_counts[a] > plan.span_counts[b]; });
    parallel_for(threads, threads, [&](std::size_t) {
      with_decoder([&](ZSTD_DCtx* ctx, char* buffer) {
        for (std::size_t i; !failed && (i = next.fetch_add(1, std::memory_order_relaxed)) < order.size();) {
          const std::uint32_t t = order[i];
          std::vector<Span>& spans = out.tracks[t].spans;
          try {
            spans.reserve(plan.span_counts[t]);
          } catch (const std::bad_alloc&) {
            out_of_memory(t);
            return;
          }
          advise_huge_pages(spans.data(), plan.span_counts[t] * sizeof(Span));
          prefault(spans.data(), plan.span_counts[t] * sizeof(Span));
          for (std::size_t b = first_block[t]; b < first_block[t + 1] && !failed; ++b) {
            spans.resize(spans.size() + blocks[b].spans);  // within the capacity reserved: no reallocation
            if (!decode_block(b, ctx, buffer, spans.data() + blocks[b].first_span)) return;
          }
        }
      });
    });
    return failed ? error : "";
  }
  // One track holds most spans: size the vectors first (that writes and faults in all their memory, one
  // track per thread at a time), then any thread decodes any block.
  parallel_for(out.tracks.size(), threads, [&](std::size_t t) {
    if (failed) return;
    try {
      std::vector<Span>& spans = out.tracks[t].spans;
      spans.reserve(plan.span_counts[t]);
      advise_huge_pages(spans.data(), plan.span_counts[t] * sizeof(Span));
      prefault(spans.data(), plan.span_counts[t] * sizeof(Span));
      spans.resize(plan.span_counts[t]);
    } catch (const std::bad_alloc&) {
      out_of_memory(t);
    }
  });
  if (failed) return error;
  parallel_for(threads, threads, [&](std::size_t) {
    with_decoder([&](ZSTD_DCtx* ctx, char* buffer) {
      for (std::size_t b; !failed && (b = next.fetch_add(1, std::memory_order_relaxed)) < blocks.size();) {
        decode_block(b, ctx, buffer, out.tracks[blocks[b].track].spans.data() + blocks[b].first_span);
      }
    });
  });
  return failed ? error : "";
}

std::string decode_v2(std::string_view file, const std::string& source, std::uint64_t payload_size, Trace& out) {
  auto at = [&](std::size_t offset, const std::string& expected) {
    return source + ": byte " + std::to_string(offset) + ": expected " + expected;
  };
  constexpr std::size_t kSizesAt = kNativeHeaderSize, kMetaAt = kNativeHeaderSize + 16;
  if (file.size() < kMetaAt) return at(file.size(), "the meta payload and compressed sizes (file too short)");
  std::uint64_t meta_size = 0, meta_compressed = 0;
  std::memcpy(&meta_size, file.data() + kSizesAt, 8);
  std::memcpy(&meta_compressed, file.data() + kSizesAt + 8, 8);
  if (meta_size > payload_size) return at(kSizesAt, "a meta payload size no larger than the payload size");
  if (meta_compressed > file.size() - kMetaAt) {
    return at(kSizesAt + 8, "a compressed meta size within the file, got " + std::to_string(meta_compressed));
  }
  PayloadBuffer meta(static_cast<std::size_t>(meta_size) + 1);
  {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    const std::string what =
        decompress_exact(ctx.get(), file.substr(kMetaAt, meta_compressed), meta.data(), static_cast<std::size_t>(meta_size));
    if (!what.empty()) return at(kMetaAt, what + " (the meta payload)");
  }
  std::string error;
  SpanLimits limits;
  BlockPlan plan;
  if (!decode_meta_v2(std::string_view(meta.data(), meta_size), out, limits, plan, error)) return source + ": " + error;
  std::uint64_t spans = 0;
  for (const std::uint64_t n : plan.span_counts) spans += n;
  if (payload_size != meta_size + spans * kSpanBytes) {
    return at(16, "a payload size of " + std::to_string(meta_size + spans * kSpanBytes) + " bytes (meta payload and " +
                      std::to_string(spans) + " spans), got " + std::to_string(payload_size));
  }
  return decode_blocks_v2(file, kMetaAt + meta_compressed, meta_size, limits, plan, source, out);
}

std::string decode_v1(std::string_view file, const std::string& source, std::uint64_t payload_size, Trace& out) {
  auto at = [&](std::size_t offset, const std::string& expected) {
    return source + ": byte " + std::to_string(offset) + ": expected " + expected;
  };
  std::uint64_t compressed_size = 0;
  std::memcpy(&compressed_size, file.data() + 24, 8);
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer in{file.data() + kNativeHeaderSize, compressed_size, 0};
  std::string error;
  // One extra byte of room: a stream that fills it holds more than the header says.
  PayloadBuffer payload(static_cast<std::size_t>(payload_size) + 1);
  ZSTD_outBuffer o{payload.data(), static_cast<std::size_t>(payload_size) + 1, 0};
  while (true) {
    const std::size_t ret = ZSTD_decompressStream(ctx.get(), &o, &in);
    if (ZSTD_isError(ret)) {
      return at(kNativeHeaderSize + in.pos, std::string("a valid zstd stream (") + ZSTD_getErrorName(ret) + ")");
    }
    if (ret == 0) break;  // frame complete
    if (o.pos > payload_size) break;
    if (in.pos == in.size) return at(file.size(), "the rest of the zstd stream (file truncated)");
  }
  if (o.pos != payload_size) {
    return at(16, "a payload size matching the data (" + std::to_string(o.pos) + " bytes" +
                      (o.pos > payload_size ? " or more" : "") + " decompressed, header says " +
                      std::to_string(payload_size) + ")");
  }
  if (in.pos != in.size) return at(kNativeHeaderSize + in.pos, "the end of the file after the zstd frame");
  if (!decode_payload_v1(std::string_view(payload.data(), o.pos), out, error)) return source + ": " + error;
  return "";
}

void put_header(std::string& out, std::uint32_t version, std::uint64_t payload_size) {
  char* h = out.data();
  std::memcpy(h, kNativeMagic.data(), 8);
  const std::uint32_t flags = 0;
  const std::uint64_t compressed_size = out.size() - kNativeHeaderSize;
  std::memcpy(h + 8, &version, 4);
  std::memcpy(h + 12, &flags, 4);
  std::memcpy(h + 16, &payload_size, 8);
  std::memcpy(h + 24, &compressed_size, 8);
}

using CCtxPtr = std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)>;

CCtxPtr make_cctx(int level) {
  CCtxPtr ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!ctx) throw std::bad_alloc();
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_checksumFlag, 1);
  return ctx;
}

// Appends `data` as one zstd frame; returns its compressed size.
std::size_t append_frame(ZSTD_CCtx* ctx, std::string& out, std::string_view data) {
  const std::size_t at = out.size();
  out.resize(at + ZSTD_compressBound(data.size()));
  const std::size_t n = ZSTD_compress2(ctx, out.data() + at, out.size() - at, data.data(), data.size());
  if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));  // cannot happen with a compressBound-sized buffer
  out.resize(at + n);
  return n;
}

// The columns of spans [first, first + n) of a track; start deltas begin at 0 so that blocks decode alone.
void put_span_columns(Writer& w, const std::vector<Span>& all, std::size_t first, std::size_t n) {
  const Span* spans = all.data() + first;
  std::uint64_t previous = 0;
  w.put_column<std::uint64_t>(spans, n, [&](const Span& s) {
    const auto start = static_cast<std::uint64_t>(s.start_ns);
    const std::uint64_t delta = start - previous;
    previous = start;
    return delta;
  });
  w.put_column<std::int64_t>(spans, n, [](const Span& s) { return s.end_ns - s.start_ns; });
  w.put_column<std::uint32_t>(spans, n, [](const Span& s) { return s.name; });
  w.put_column<std::uint32_t>(spans, n, [](const Span& s) { return s.args; });
  w.put_column<std::int32_t>(spans, n, [](const Span& s) { return s.layer; });
  w.put_column<std::int32_t>(spans, n, [](const Span& s) { return s.iteration; });
  w.put_column<std::int32_t>(spans, n, [](const Span& s) { return s.op_instance; });
  w.put_column<std::uint8_t>(spans, n, [](const Span& s) { return static_cast<std::uint8_t>(s.category); });
  w.put_column<std::uint8_t>(spans, n, [](const Span& s) { return s.flags; });
  w.put_column<std::uint16_t>(spans, n, [](const Span& s) { return s.depth; });
}

void put_common(Writer& w, std::string& out, const Trace& trace) {
  w.put(kStrings);
  w.put(static_cast<std::uint64_t>(trace.strings.size()));
  for (std::uint32_t i = 0; i < trace.strings.size(); ++i) {
    w.put(static_cast<std::uint32_t>(trace.strings.view(i).size()));
  }
  for (std::uint32_t i = 0; i < trace.strings.size(); ++i) out.append(trace.strings.view(i));

  w.put(kRanks);
  w.put(static_cast<std::uint64_t>(trace.ranks.size()));
  for (const RankInfo& r : trace.ranks) {
    w.put(r.rank);
    w.put_string(r.label);
  }
  w.put(kMeta);
  w.put(static_cast<std::uint64_t>(trace.metadata.size()));
  for (const auto& [k, v] : trace.metadata) {
    w.put_string(k);
    w.put_string(v);
  }
  w.put(kDropped);
  w.put(trace.dropped_records);

  w.put(kArgs);
  w.put(static_cast<std::uint64_t>(trace.args.size()));
  for (std::uint32_t i = 0; i < trace.args.size(); ++i) {
    const std::span<const Arg> list = trace.args[i];
    w.put(static_cast<std::uint32_t>(list.size()));
    for (const Arg& a : list) {
      w.put(a.key);
      w.put_string(a.value());
    }
  }
}

void put_track_info(Writer& w, const TrackInfo& info) {
  w.put(info.rank);
  w.put(info.device);
  w.put(static_cast<std::uint8_t>(info.device_kind));
  w.put(static_cast<std::uint8_t>(info.kind));
  w.put(info.native_id);
  w.put_string(info.name);
}

void put_flows(Writer& w, const Trace& trace) {
  w.put(kFlows);
  w.put(static_cast<std::uint64_t>(trace.flows.size()));
  for (const Flow& f : trace.flows) {
    w.put(f.from.track);
    w.put(f.from.span);
    w.put(f.to.track);
    w.put(f.to.span);
    w.put(static_cast<std::uint8_t>(f.kind));
  }
  w.put(kEnd);
}

}  // namespace

std::string encode_native_payload(const Trace& trace) {
  std::string out;
  std::size_t estimate = 64;
  for (const Track& t : trace.tracks) estimate += 64 + t.info.name.size() + t.spans.size() * kSpanBytes;
  out.reserve(estimate);
  Writer w(out);
  put_common(w, out, trace);
  w.put(kTracks);
  w.put(static_cast<std::uint64_t>(trace.tracks.size()));
  for (const Track& t : trace.tracks) {
    put_track_info(w, t.info);
    w.put(static_cast<std::uint64_t>(t.spans.size()));
    put_span_columns(w, t.spans, 0, t.spans.size());
  }
  put_flows(w, trace);
  return out;
}

std::string encode_native_v1(const Trace& trace, int zstd_level) {
  const std::string payload = encode_native_payload(trace);
  std::string out(kNativeHeaderSize, '\0');
  append_frame(make_cctx(zstd_level).get(), out, payload);
  put_header(out, kNativeVersion1, payload.size());
  return out;
}

std::string encode_native(const Trace& trace, int zstd_level) {
  // The span blocks first (in parallel: each is its own frame), then the meta payload that lists them.
  struct Job {
    const std::vector<Span>* spans;
    std::size_t first, n;
  };
  std::vector<Job> jobs;
  for (const Track& t : trace.tracks) {
    for (std::size_t first = 0; first < t.spans.size(); first += kBlockSpans) {
      jobs.push_back({&t.spans, first, std::min<std::size_t>(kBlockSpans, t.spans.size() - first)});
    }
  }
  std::vector<std::string> frames(jobs.size());
  std::atomic<bool> failed{false};
  const std::size_t threads = jobs.size() >= 2 ? worker_threads() : 1;
  std::atomic<std::size_t> next{0};
  parallel_for(threads, threads, [&](std::size_t) {
    try {
      CCtxPtr ctx = make_cctx(zstd_level);
      std::string columns;
      for (std::size_t j; !failed && (j = next.fetch_add(1, std::memory_order_relaxed)) < jobs.size();) {
        columns.clear();
        Writer w(columns);
        put_span_columns(w, *jobs[j].spans, jobs[j].first, jobs[j].n);
        append_frame(ctx.get(), frames[j], columns);
      }
    } catch (const std::exception&) {
      failed = true;
    }
  });
  if (failed) return {};

  std::string meta;
  Writer w(meta);
  put_common(w, meta, trace);
  w.put(kTracks);
  w.put(static_cast<std::uint64_t>(trace.tracks.size()));
  std::uint64_t spans = 0;
  for (const Track& t : trace.tracks) {
    put_track_info(w, t.info);
    w.put(static_cast<std::uint64_t>(t.spans.size()));
    spans += t.spans.size();
  }
  w.put(kBlocks);
  w.put(kBlockSpans);
  w.put(static_cast<std::uint64_t>(frames.size()));
  for (const std::string& f : frames) w.put(static_cast<std::uint64_t>(f.size()));
  put_flows(w, trace);

  std::string out(kNativeHeaderSize + 16, '\0');
  std::size_t total = out.size() + ZSTD_compressBound(meta.size());
  for (const std::string& f : frames) total += f.size();
  out.reserve(total);
  const std::size_t meta_compressed = append_frame(make_cctx(zstd_level).get(), out, meta);
  const std::uint64_t meta_size = meta.size(), meta_compressed_size = meta_compressed;
  std::memcpy(out.data() + kNativeHeaderSize, &meta_size, 8);
  std::memcpy(out.data() + kNativeHeaderSize + 8, &meta_compressed_size, 8);
  for (std::string& f : frames) {
    out.append(f);
    std::string().swap(f);
  }
  put_header(out, kNativeVersion, meta.size() + spans * kSpanBytes);
  return out;
}

std::string save_native(const Trace& trace, const std::string& path) {
  const std::string bytes = encode_native(trace);
  if (bytes.empty()) return path + ": internal error: zstd compression failed";
  return write_file_atomically(path, bytes);
}

std::string decode_native(std::string_view file, const std::string& source, Trace& out) {
  auto at = [&](std::size_t offset, const std::string& expected) {
    return source + ": byte " + std::to_string(offset) + ": expected " + expected;
  };
  if (file.size() < kNativeHeaderSize) return at(file.size(), "a 32-byte header (file too short)");
  if (file.substr(0, 8) != kNativeMagic) return at(0, "the magic \"SCMOETRC\"");
  std::uint32_t version = 0, flags = 0;
  std::uint64_t payload_size = 0, compressed_size = 0;
  std::memcpy(&version, file.data() + 8, 4);
  std::memcpy(&flags, file.data() + 12, 4);
  std::memcpy(&payload_size, file.data() + 16, 8);
  std::memcpy(&compressed_size, file.data() + 24, 8);
  if (version != kNativeVersion && version != kNativeVersion1) {
    return at(8, "format version " + std::to_string(kNativeVersion1) + " or " + std::to_string(kNativeVersion) +
                     ", got " + std::to_string(version) + " (written by a different ScMoE Studio)");
  }
  if (flags != 0) return at(12, "flags 0");
  if (compressed_size != file.size() - kNativeHeaderSize) {
    return at(24, "a compressed size of " + std::to_string(file.size() - kNativeHeaderSize) +
                      " bytes (the rest of the file), got " + std::to_string(compressed_size));
  }
  if (payload_size > kMaxPayload) return at(16, "a payload size below 1 TiB");
  try {
    return version == kNativeVersion1 ? decode_v1(file, source, payload_size, out)
                                      : decode_v2(file, source, payload_size, out);
  } catch (const std::bad_alloc&) {
    return source + ": not enough memory to load a payload of " + std::to_string(payload_size) + " bytes";
  }
}

}  // namespace scmoe::prof::formats
