#include "scmoe/profiler/formats/chrome_json_export.h"

#include <simdjson.h>
#include <zlib.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>
#include <vector>

#include "scmoe/profiler/formats/atomic_file.h"
#include "scmoe/profiler/formats/chrome_json_schema.h"
#include "scmoe/profiler/formats/timestamp.h"

namespace scmoe::prof::formats {

namespace {

constexpr std::size_t kChunk = 1 << 20;

bool is_json_number(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  auto digit = [&](std::size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
  if (i < n && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == n;
}

// Arg values are stored as text; numbers and literals go back out as JSON numbers/literals, everything
// else (including text that merely looks like an array) as a string, so the output is always valid.
void append_arg_value(std::string& out, std::string_view v) {
  if (v == "true" || v == "false" || v == "null" || is_json_number(v)) {
    out.append(v);
  } else {
    append_json_string(out, v);
  }
}

// Which tid (lane) of its track each span goes to: a span may share a lane with the spans it nests in,
// never with one it partially overlaps.
struct LaneAssignment {
  std::vector<std::uint32_t> order;  // span indices by (start, longer first)
  std::vector<std::uint32_t> lane;   // per span index
  std::uint32_t lanes = 1;
};

LaneAssignment assign_lanes(const std::vector<Span>& spans) {
  LaneAssignment a;
  a.order.resize(spans.size());
  std::iota(a.order.begin(), a.order.end(), 0u);
  std::stable_sort(a.order.begin(), a.order.end(), [&](std::uint32_t x, std::uint32_t y) {
    const Span& p = spans[x];
    const Span& q = spans[y];
    return p.start_ns != q.start_ns ? p.start_ns < q.start_ns : p.end_ns > q.end_ns;
  });
  a.lane.resize(spans.size());
  std::vector<std::vector<std::int64_t>> open;  // per lane: ends of the spans still enclosing
  for (std::uint32_t i : a.order) {
    const Span& s = spans[i];
    std::uint32_t chosen = static_cast<std::uint32_t>(open.size());
    for (std::uint32_t l = 0; l < open.size(); ++l) {
      auto& stack = open[l];
      while (!stack.empty() && stack.back() <= s.start_ns) stack.pop_back();
      if (stack.empty() || stack.back() >= s.end_ns) {
        chosen = l;
        break;
      }
    }
    if (chosen == open.size()) open.emplace_back();
    open[chosen].push_back(s.end_ns);
    a.lane[i] = chosen;
  }
  a.lanes = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(open.size()));
  return a;
}

class ChromeWriter {
 public:
  ChromeWriter(const Trace& trace, const std::function<void(std::string_view)>& sink) : t_(trace), sink_(sink) {
    buf_.reserve(kChunk + 4096);
  }
  void write();

 private:
  void maybe_flush() {
    if (buf_.size() >= kChunk) {
      sink_(buf_);
      buf_.clear();
    }
  }
  void begin_event() {
    buf_.append(first_event_ ? "\n" : ",\n");
    first_event_ = false;
  }
  void metadata_event(std::string_view name, int pid, int tid, std::string_view args_json) {
    begin_event();
    buf_.append("{\"ph\":\"M\",\"name\":\"").append(name).append("\",\"pid\":").append(std::to_string(pid));
    buf_.append(",\"tid\":").append(std::to_string(tid)).append(",\"args\":").append(args_json).append("}");
  }
  void header();
  void span_event(const Span& s, int pid, int tid);
  void flow_event(char ph, std::size_t id, FlowKind kind, const SpanRef& ref);

  const Trace& t_;
  const std::function<void(std::string_view)>& sink_;
  std::string buf_;
  bool first_event_ = true;
  std::vector<int> pid_of_track_;
  std::vector<int> first_tid_of_track_;
  std::vector<LaneAssignment> lanes_;
};

void ChromeWriter::header() {
  buf_.append("{\"");
  buf_.append(kScmoeHeaderKey);
  buf_.append("\":{\"version\":1,\"dropped_records\":").append(std::to_string(t_.dropped_records));
  buf_.append(",\"ranks\":[");
  for (std::size_t i = 0; i < t_.ranks.size(); ++i) {
    if (i) buf_.push_back(',');
    buf_.append("{\"rank\":").append(std::to_string(t_.ranks[i].rank)).append(",\"label\":");
    append_json_string(buf_, t_.ranks[i].label);
    buf_.push_back('}');
  }
  buf_.append("],\"metadata\":[");
  for (std::size_t i = 0; i < t_.metadata.size(); ++i) {
    if (i) buf_.push_back(',');
    buf_.push_back('[');
    append_json_string(buf_, t_.metadata[i].first);
    buf_.push_back(',');
    append_json_string(buf_, t_.metadata[i].second);
    buf_.push_back(']');
  }
  buf_.append("]},\n\"displayTimeUnit\":\"ns\",\n\"traceEvents\":[");
}

void ChromeWriter::span_event(const Span& s, int pid, int tid) {
  begin_event();
  buf_.append("{\"ph\":\"X\",\"name\":");
  append_json_string(buf_, t_.strings.view(s.name));
  buf_.append(",\"cat\":\"").append(category_name(s.category)).append("\",\"pid\":").append(std::to_string(pid));
  buf_.append(",\"tid\":").append(std::to_string(tid)).append(",\"ts\":");
  append_ns_as_us(buf_, s.start_ns);
  buf_.append(",\"dur\":");
  append_ns_as_us(buf_, s.end_ns - s.start_ns);
  buf_.append(",\"args\":{");
  bool first = true;
  auto key = [&](std::string_view k) {
    if (!first) buf_.push_back(',');
    first = false;
    append_json_string(buf_, k);
    buf_.push_back(':');
  };
  if (s.layer != kNoIndex) key("layer"), buf_.append(std::to_string(s.layer));
  if (s.iteration != kNoIndex) key("iteration"), buf_.append(std::to_string(s.iteration));
  if (s.op_instance != kNoIndex) key("op_instance"), buf_.append(std::to_string(s.op_instance));
  if (s.flags != 0) key("flags"), append_json_string(buf_, flags_text(s.flags));
  if (s.depth != 0) key("depth"), buf_.append(std::to_string(s.depth));
  if (s.args != kNoArgs && s.args < t_.args.size()) {
    for (const Arg& a : t_.args[s.args]) {
      const std::string_view k = t_.strings.view(a.key);
      if (is_span_field_arg(k)) continue;  // the span's own fields carry these names
      key(k);
      append_arg_value(buf_, a.value());
    }
  }
  buf_.append("}}");
}

void ChromeWriter::flow_event(char ph, std::size_t id, FlowKind kind, const SpanRef& ref) {
  const Span& s = t_.tracks[ref.track].spans[ref.span];
  const int tid = first_tid_of_track_[ref.track] + static_cast<int>(lanes_[ref.track].lane[ref.span]);
  begin_event();
  buf_.append("{\"ph\":\"").push_back(ph);
  buf_.append("\",\"id\":").append(std::to_string(id)).append(",\"cat\":\"").append(flow_category(kind));
  buf_.append("\",\"name\":\"").append(flow_category(kind)).append("\",\"pid\":");
  buf_.append(std::to_string(pid_of_track_[ref.track])).append(",\"tid\":").append(std::to_string(tid));
  buf_.append(",\"ts\":");
  append_ns_as_us(buf_, s.start_ns);
  if (ph == 'f') buf_.append(",\"bp\":\"e\"");
  buf_.push_back('}');
}

void ChromeWriter::write() {
  header();
  // pids: one per (rank, device kind, device), numbered in track order from 1.
  std::map<std::tuple<std::int32_t, int, std::int32_t>, int> pids;
  std::vector<int> next_tid;
  pid_of_track_.resize(t_.tracks.size());
  first_tid_of_track_.resize(t_.tracks.size());
  lanes_.reserve(t_.tracks.size());
  for (std::size_t i = 0; i < t_.tracks.size(); ++i) {
    const TrackInfo& info = t_.tracks[i].info;
    const auto key = std::make_tuple(info.rank, static_cast<int>(info.device_kind), info.device);
    auto [it, inserted] = pids.try_emplace(key, static_cast<int>(pids.size()) + 1);
    if (inserted) {
      next_tid.push_back(1);
      std::string name = "rank " + std::to_string(info.rank) +
                         (info.device_kind == DeviceKind::Gpu ? " GPU " + std::to_string(info.device) : " host");
      std::string args = "{\"name\":";
      append_json_string(args, name);
      args.push_back('}');
      metadata_event("process_name", it->second, 0, args);
      metadata_event("process_sort_index", it->second, 0, "{\"sort_index\":" + std::to_string(it->second) + "}");
    }
    const int pid = it->second;
    pid_of_track_[i] = pid;
    lanes_.push_back(assign_lanes(t_.tracks[i].spans));
    const int first_tid = next_tid[static_cast<std::size_t>(pid - 1)];
    first_tid_of_track_[i] = first_tid;
    next_tid[static_cast<std::size_t>(pid - 1)] += static_cast<int>(lanes_.back().lanes);
    const std::string identity = track_identity_json(info, i);
    for (std::uint32_t lane = 0; lane < lanes_.back().lanes; ++lane) {
      std::string args = "{\"name\":";
      append_json_string(args, lane == 0 ? info.name : info.name + " (overlap " + std::to_string(lane) + ")");
      args.append(",\"").append(kScmoeTrackArg).append("\":").append(identity).append("}");
      const int tid = first_tid + static_cast<int>(lane);
      metadata_event("thread_name", pid, tid, args);
      metadata_event("thread_sort_index", pid, tid, "{\"sort_index\":" + std::to_string(tid) + "}");
    }
    maybe_flush();
  }
  for (std::size_t i = 0; i < t_.tracks.size(); ++i) {
    const std::vector<Span>& spans = t_.tracks[i].spans;
    const LaneAssignment& lanes = lanes_[i];
    for (std::uint32_t index : lanes.order) {
      span_event(spans[index], pid_of_track_[i], first_tid_of_track_[i] + static_cast<int>(lanes.lane[index]));
      maybe_flush();
    }
  }
  std::size_t id = 1;
  for (const Flow& f : t_.flows) {
    if (f.from.track >= t_.tracks.size() || f.to.track >= t_.tracks.size() ||
        f.from.span >= t_.tracks[f.from.track].spans.size() || f.to.span >= t_.tracks[f.to.track].spans.size()) {
      continue;  // a dangling flow has nothing to bind to
    }
    flow_event('s', id, f.kind, f.from);
    flow_event('f', id, f.kind, f.to);
    ++id;
    maybe_flush();
  }
  buf_.append("\n]}\n");
  sink_(buf_);
  buf_.clear();
}

// Gzip stream into an atomic file.
class GzipSink {
 public:
  explicit GzipSink(AtomicFileWriter& out) : out_(out) {
    ok_ = deflateInit2(&z_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    if (!ok_) error_ = "zlib initialisation failed";
  }
  ~GzipSink() { deflateEnd(&z_); }
  void write(std::string_view data, bool finish) {
    if (!ok_) return;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z_.avail_in = static_cast<uInt>(data.size());
    char buffer[1 << 16];
    int ret = Z_OK;
    do {
      z_.next_out = reinterpret_cast<Bytef*>(buffer);
      z_.avail_out = sizeof buffer;
      ret = deflate(&z_, finish ? Z_FINISH : Z_NO_FLUSH);
      if (ret == Z_STREAM_ERROR) {
        ok_ = false;
        error_ = "zlib deflate failed";
        return;
      }
      out_.write(buffer, sizeof buffer - z_.avail_out);
    } while (z_.avail_out == 0 || (finish && ret != Z_STREAM_END));
  }
  const std::string& error() const { return error_; }

 private:
  AtomicFileWriter& out_;
  z_stream z_{};
  bool ok_ = false;
  std::string error_;
};

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool valid_utf8 = simdjson::validate_utf8(s.data(), s.size());
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || (c >= 0x80 && !valid_utf8)) {
      switch (c) {
        case '\n': out.append("\\n"); break;
        case '\t': out.append("\\t"); break;
        case '\r': out.append("\\r"); break;
        default:
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
      }
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

void write_chrome_json(const Trace& trace, const std::function<void(std::string_view)>& sink) {
  ChromeWriter(trace, sink).write();
}

std::string export_chrome_json(const Trace& trace, const std::string& path, bool gzip) {
  AtomicFileWriter out;
  if (std::string err = out.open(path); !err.empty()) return err;
  if (!gzip) {
    write_chrome_json(trace, [&](std::string_view chunk) { out.write(chunk); });
    return out.commit();
  }
  GzipSink zip(out);
  write_chrome_json(trace, [&](std::string_view chunk) { zip.write(chunk, false); });
  zip.write({}, true);
  if (!zip.error().empty()) return path + ": " + zip.error();
  return out.commit();
}

}  // namespace scmoe::prof::formats
