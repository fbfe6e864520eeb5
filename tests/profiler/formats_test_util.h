// Helpers shared by the formats tests: temporary files, gzip reading for the independent references, and
// a field-by-field trace comparison.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::testing {

inline std::string fixture(const std::string& name) { return std::string(SCMOE_FIXTURES_DIR) + "/kineto/" + name; }

// A fresh directory under the build tree, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = std::string(SCMOE_BINARY_DIR) + "/formats_test_XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Decompresses a .gz with zlib's gzread (not the code under test's inflate loop).
inline std::string read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::string out;
  char buf[1 << 16];
  int n = 0;
  while (f && (n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  if (f) gzclose(f);
  return out;
}

inline std::string span_text(const Trace& t, const Span& s) {
  std::ostringstream o;
  o << t.strings.view(s.name) << " [" << s.start_ns << "," << s.end_ns << "] cat=" << category_name(s.category)
    << " layer=" << s.layer << " it=" << s.iteration << " op=" << s.op_instance << " flags=" << int(s.flags)
    << " depth=" << s.depth;
  if (s.args != kNoArgs) {
    for (const Arg& a : t.args[s.args]) o << " " << t.strings.view(a.key) << "=" << a.value();
  }
  return o.str();
}

// Compares two traces by content (names and arg keys as strings, so string ids may differ).
inline void expect_same_trace(const Trace& a, const Trace& b) {
  ASSERT_EQ(a.tracks.size(), b.tracks.size());
  for (std::size_t i = 0; i < a.tracks.size(); ++i) {
    const TrackInfo& x = a.tracks[i].info;
    const TrackInfo& y = b.tracks[i].info;
    EXPECT_EQ(x.rank, y.rank) << i;
    EXPECT_EQ(x.device, y.device) << i;
    EXPECT_EQ(x.device_kind, y.device_kind) << i;
    EXPECT_EQ(x.kind, y.kind) << i;
    EXPECT_EQ(x.native_id, y.native_id) << i;
    EXPECT_EQ(x.name, y.name) << i;
    ASSERT_EQ(a.tracks[i].spans.size(), b.tracks[i].spans.size()) << x.name;
    for (std::size_t k = 0; k < a.tracks[i].spans.size(); ++k) {
      ASSERT_EQ(span_text(a, a.tracks[i].spans[k]), span_text(b, b.tracks[i].spans[k])) << x.name << " span " << k;
    }
  }
  ASSERT_EQ(a.flows.size(), b.flows.size());
  for (std::size_t i = 0; i < a.flows.size(); ++i) {
    EXPECT_EQ(a.flows[i].from, b.flows[i].from) << i;
    EXPECT_EQ(a.flows[i].to, b.flows[i].to) << i;
    EXPECT_EQ(a.flows[i].kind, b.flows[i].kind) << i;
  }
  ASSERT_EQ(a.ranks.size(), b.ranks.size());
  for (std::size_t i = 0; i < a.ranks.size(); ++i) {
    EXPECT_EQ(a.ranks[i].rank, b.ranks[i].rank);
    EXPECT_EQ(a.ranks[i].label, b.ranks[i].label);
  }
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.dropped_records, b.dropped_records);
}

}  // namespace scmoe::prof::testing

namespace scmoe::prof::testing {

// A small trace that uses every feature the formats carry: two ranks, GPU streams with nested and
// partially overlapping spans, a host thread with nesting depth, an annotation track, args with characters
// that need escaping, flags, layers, flows of every kind, metadata and dropped records.
inline Trace make_sample_trace() {
  Trace t;
  auto name = [&](std::string_view s) { return t.strings.intern(s); };
  for (std::int32_t rank = 0; rank < 2; ++rank) {
    t.ranks.push_back({rank, "rank " + std::to_string(rank) + " \"quoted\", label"});
    const auto compute = t.track_for({rank, rank, DeviceKind::Gpu, TrackKind::CudaStream, 7, "stream 7"});
    const auto comm = t.track_for({rank, rank, DeviceKind::Gpu, TrackKind::CommLane, 40, "comm, lane"});
    const auto host = t.track_for({rank, 0, DeviceKind::Cpu, TrackKind::HostThread, 1234 + rank, "main thread"});
    const auto notes = t.track_for({rank, rank, DeviceKind::Gpu, TrackKind::Annotation, 40, "stream 40 annotations"});
    const std::int64_t base = 1'700'000'000'000'000'000LL + rank * 1'000'003;  // epoch-like ns: tests precision
    auto span = [&](std::uint32_t track, std::int64_t start, std::int64_t end, std::string_view n, Category c) -> Span& {
      Span s;
      s.start_ns = base + start;
      s.end_ns = base + end;
      s.name = name(n);
      s.category = c;
      t.tracks[track].spans.push_back(s);
      return t.tracks[track].spans.back();
    };
    span(compute, 0, 1000, "attention", Category::Attention).layer = 0;
    span(compute, 100, 400, "gemm \"inner\"", Category::Attention);           // nested in attention
    span(compute, 900, 1500, "overlapping kernel", Category::Mlp).iteration = 3;  // partial overlap
    Span& e = span(compute, 1600, 2601, "expert", Category::Expert);
    e.layer = 2;
    e.iteration = 3;
    e.op_instance = 1;
    e.flags = kSpanDropped;
    e.args = t.add_args({{name("tokens"), "1024"},
                         {name("shape"), "[[4096, 1024], []]"},
                         {name("note"), "line1\nline2\t\"q\" \\ unicode: \xC3\xA9\xE2\x82\xAC"},
                         {name("ratio"), "0.125"},
                         {name("flag"), "true"},
                         {name("leading zero"), "007"}});
    span(comm, 10, 700, "ncclDevKernel_SendRecv(ncclDevComm*)", Category::Dispatch).flags = kSpanEmulated;
    span(comm, 1700, 2300, "ncclDevKernel_SendRecv(ncclDevComm*)", Category::Combine).flags = kSpanEmulated | kSpanPredicted;
    span(host, 0, 5000, "forward", Category::Other);
    span(host, 5, 90, "cudaLaunchKernel", Category::Other).depth = 1;
    span(host, 95, 96, "zero length sibling", Category::Other).depth = 1;
    span(notes, 0, 800, "dispatch", Category::Dispatch);
    span(notes, 1650, 2400, "combine", Category::Combine);
  }
  t.finalize();
  // Flows after finalize: indices refer to the sorted spans. Each binds to a span with a unique start.
  t.flows.push_back({{2, 1}, {0, 0}, FlowKind::Launch});   // rank 0 host cudaLaunchKernel -> attention
  t.flows.push_back({{1, 0}, {0, 3}, FlowKind::MoePipeline});  // dispatch -> expert
  t.flows.push_back({{0, 3}, {1, 1}, FlowKind::MoePipeline});  // expert -> combine
  t.flows.push_back({{4, 2}, {6, 0}, FlowKind::Other});
  t.metadata = {{"config", "demo.toml"}, {"machine", "2 cores, \"quoted\""}};
  t.dropped_records = 17;
  return t;
}

}  // namespace scmoe::prof::testing
