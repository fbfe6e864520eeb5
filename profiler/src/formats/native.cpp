#include "scmoe/profiler/formats/native.h"

#include <sys/mman.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <bit>

#include "scmoe/profiler/formats/atomic_file.h"

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
                        kArgs = tag("ARGS"), kTracks = tag("TRKS"), kFlows = tag("FLOW"), kEnd = tag("END ");

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
  void put_column(const std::vector<Span>& spans, F field) {
    const std::size_t at = out_.size();
    out_.resize(at + spans.size() * sizeof(T));
    char* p = out_.data() + at;
    for (const Span& s : spans) {
      const T v = field(s);
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

bool decode_payload(std::string_view payload, Trace& out, std::string& error) {
  Reader r(payload, error);
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
  const std::uint64_t string_count = n;

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
  out.args.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint32_t size = 0;
    if (!r.get(size, "arg list size")) return false;
    if (size > (payload.size() - r.offset()) / 8) return r.fail("an arg list size no larger than the bytes left");
    ArgList& list = out.args[i];
    list.resize(size);
    for (Arg& a : list) {
      std::string_view value;
      const std::size_t at = r.offset();
      if (!r.get(a.key, "arg key")) return false;
      if (a.key >= string_count) {
        error = "payload byte " + std::to_string(at) + ": expected an arg key below " + std::to_string(string_count);
        return false;
      }
      if (!r.get_string(value, "arg value")) return false;
      a.value = value;
    }
  }
  const std::uint64_t arg_count = n;

  if (!r.expect_tag(kTracks, "TRKS") || !r.count(n, 26, "track count")) return false;
  out.tracks.resize(n);
  for (Track& t : out.tracks) {
    TrackInfo& info = t.info;
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
    std::uint64_t spans = 0;
    if (!r.count(spans, 40, "span count")) return false;
    t.spans.reserve(spans);
    advise_huge_pages(t.spans.data(), spans * sizeof(Span));
    const std::size_t columns_at = r.offset();
    const char* starts = r.column<std::int64_t>(spans, "start");
    const char* durations = r.column<std::int64_t>(spans, "duration");
    const char* names = r.column<std::uint32_t>(spans, "name");
    const char* args = r.column<std::uint32_t>(spans, "args");
    const char* layers = r.column<std::int32_t>(spans, "layer");
    const char* iterations = r.column<std::int32_t>(spans, "iteration");
    const char* instances = r.column<std::int32_t>(spans, "op instance");
    const char* categories = r.column<std::uint8_t>(spans, "category");
    const char* flags = r.column<std::uint8_t>(spans, "flags");
    const char* depths = r.column<std::uint16_t>(spans, "depth");
    if (!r.ok()) return false;
    t.spans.resize(spans);
    std::uint64_t start = 0;  // deltas add up modulo 2^64: any int64 sequence round-trips
    auto bad = [&](std::uint64_t i, std::string_view what) {
      error = "payload byte " + std::to_string(columns_at) + ": expected " + std::string(what) + " (span " +
              std::to_string(i) + " of track " + std::to_string(&t - out.tracks.data()) + ")";
      return false;
    };
    for (std::uint64_t i = 0; i < spans; ++i) {
      Span& s = t.spans[i];
      start += load<std::uint64_t>(starts, i);
      s.start_ns = static_cast<std::int64_t>(start);
      const auto duration = load<std::int64_t>(durations, i);
      if (duration < 0 || __builtin_add_overflow(s.start_ns, duration, &s.end_ns)) {
        return bad(i, "a non-negative duration within int64");
      }
      s.name = load<std::uint32_t>(names, i);
      s.args = load<std::uint32_t>(args, i);
      s.layer = load<std::int32_t>(layers, i);
      s.iteration = load<std::int32_t>(iterations, i);
      s.op_instance = load<std::int32_t>(instances, i);
      const auto category = load<std::uint8_t>(categories, i);
      s.flags = load<std::uint8_t>(flags, i);
      s.depth = load<std::uint16_t>(depths, i);
      if (s.name >= string_count) return bad(i, "a name id below the string count");
      if (s.args != kNoArgs && s.args >= arg_count) return bad(i, "an args index below the arg list count");
      if (category >= kCategoryCount) return bad(i, "a category 0..12");
      s.category = static_cast<Category>(category);
    }
  }

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
    auto valid = [&](const SpanRef& ref) {
      return ref.track < out.tracks.size() && ref.span < out.tracks[ref.track].spans.size();
    };
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

}  // namespace

std::string encode_native_payload(const Trace& trace) {
  std::string out;
  std::size_t estimate = 64;
  for (const Track& t : trace.tracks) estimate += 64 + t.info.name.size() + t.spans.size() * 40;
  out.reserve(estimate);
  Writer w(out);

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
  for (const ArgList& list : trace.args) {
    w.put(static_cast<std::uint32_t>(list.size()));
    for (const Arg& a : list) {
      w.put(a.key);
      w.put_string(a.value);
    }
  }

  w.put(kTracks);
  w.put(static_cast<std::uint64_t>(trace.tracks.size()));
  for (const Track& t : trace.tracks) {
    w.put(t.info.rank);
    w.put(t.info.device);
    w.put(static_cast<std::uint8_t>(t.info.device_kind));
    w.put(static_cast<std::uint8_t>(t.info.kind));
    w.put(t.info.native_id);
    w.put_string(t.info.name);
    w.put(static_cast<std::uint64_t>(t.spans.size()));
    std::uint64_t previous = 0;
    w.put_column<std::uint64_t>(t.spans, [&](const Span& s) {
      const auto start = static_cast<std::uint64_t>(s.start_ns);
      const std::uint64_t delta = start - previous;
      previous = start;
      return delta;
    });
    w.put_column<std::int64_t>(t.spans, [](const Span& s) { return s.end_ns - s.start_ns; });
    w.put_column<std::uint32_t>(t.spans, [](const Span& s) { return s.name; });
    w.put_column<std::uint32_t>(t.spans, [](const Span& s) { return s.args; });
    w.put_column<std::int32_t>(t.spans, [](const Span& s) { return s.layer; });
    w.put_column<std::int32_t>(t.spans, [](const Span& s) { return s.iteration; });
    w.put_column<std::int32_t>(t.spans, [](const Span& s) { return s.op_instance; });
    w.put_column<std::uint8_t>(t.spans, [](const Span& s) { return static_cast<std::uint8_t>(s.category); });
    w.put_column<std::uint8_t>(t.spans, [](const Span& s) { return s.flags; });
    w.put_column<std::uint16_t>(t.spans, [](const Span& s) { return s.depth; });
  }

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
  return out;
}

std::string encode_native(const Trace& trace, int zstd_level) {
  const std::string payload = encode_native_payload(trace);
  std::string out(kNativeHeaderSize + ZSTD_compressBound(payload.size()), '\0');
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, zstd_level);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_checksumFlag, 1);
  const std::size_t compressed =
      ZSTD_compress2(ctx.get(), out.data() + kNativeHeaderSize, out.size() - kNativeHeaderSize, payload.data(),
                     payload.size());
  if (ZSTD_isError(compressed)) return {};  // cannot happen with a compressBound-sized buffer
  out.resize(kNativeHeaderSize + compressed);
  char* h = out.data();
  std::memcpy(h, kNativeMagic.data(), 8);
  const std::uint32_t version = kNativeVersion, flags = 0;
  const std::uint64_t payload_size = payload.size(), compressed_size = compressed;
  std::memcpy(h + 8, &version, 4);
  std::memcpy(h + 12, &flags, 4);
  std::memcpy(h + 16, &payload_size, 8);
  std::memcpy(h + 24, &compressed_size, 8);
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
  if (version != kNativeVersion) {
    return at(8, "format version " + std::to_string(kNativeVersion) + ", got " + std::to_string(version) +
                     " (written by a different ScMoE Studio)");
  }
  if (flags != 0) return at(12, "flags 0");
  if (compressed_size != file.size() - kNativeHeaderSize) {
    return at(24, "a compressed size of " + std::to_string(file.size() - kNativeHeaderSize) +
                      " bytes (the rest of the file), got " + std::to_string(compressed_size));
  }
  if (payload_size > kMaxPayload) return at(16, "a payload size below 1 TiB");
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer in{file.data() + kNativeHeaderSize, compressed_size, 0};
  std::string error;
  try {
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
    if (!decode_payload(std::string_view(payload.data(), o.pos), out, error)) return source + ": " + error;
  } catch (const std::bad_alloc&) {
    return source + ": not enough memory to load a payload of " + std::to_string(payload_size) + " bytes";
  }
  return "";
}

}  // namespace scmoe::prof::formats
