// The real PyTorch-profiler fixtures, imported and checked against an independent reading of the same files
// (zlib's gzread + nlohmann::json, plain counting), never against the importer's own output.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "formats_test_util.h"
#include "scmoe/profiler/formats/load.h"

namespace scmoe::prof {
namespace {

using testing::fixture;

struct StreamRef {
  std::size_t events = 0;       // kernels + memcpy + memset
  std::size_t nccl_kernels = 0;
  std::size_t memcpy = 0;
  std::int64_t total_dur_ns = 0;
  std::int64_t first_start_ns = INT64_MAX;
  bool inexact_start = false;  // some ts had a fraction: the double-based reference is then only +-1 ns
};

struct Reference {
  std::map<std::pair<std::int64_t, std::int64_t>, StreamRef> streams;  // (device, stream)
  std::optional<std::int64_t> rank;
  std::size_t launch_flows = 0;  // ac2g ids with both a start and an end
  std::size_t host_threads = 0;  // (pid, tid) of cpu_op / cuda_runtime events
};

Reference reference_of(const std::string& path) {
  const nlohmann::json doc = nlohmann::json::parse(testing::read_gzip(path));
  Reference ref;
  const std::int64_t base = doc.value("baseTimeNanoseconds", std::int64_t{0});
  if (doc.contains("distributedInfo")) ref.rank = doc["distributedInfo"]["rank"].get<std::int64_t>();
  std::map<std::string, std::pair<int, int>> flow_ends;
  std::set<std::pair<std::string, std::string>> threads;
  for (const auto& e : doc["traceEvents"]) {
    const std::string ph = e.value("ph", "");
    const std::string cat = e.value("cat", "");
    if (ph == "X" && (cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset")) {
      StreamRef& s = ref.streams[{e["args"]["device"].get<std::int64_t>(), e["args"]["stream"].get<std::int64_t>()}];
      ++s.events;
      const std::string name = e["name"].get<std::string>();
      if (name.rfind("ncclKernel_", 0) == 0 || name.rfind("ncclDevKernel_", 0) == 0) ++s.nccl_kernels;
      if (cat == "gpu_memcpy") ++s.memcpy;
      s.total_dur_ns += (std::int64_t)std::llround(e["dur"].get<double>() * 1000.0);
      // Integral microseconds are exact in the reference; fractional ones went through a double, which
      // cannot hold a nanosecond-exact epoch time (that is why the importer parses the text).
      const std::int64_t ts_ns = e["ts"].is_number_integer() ? e["ts"].get<std::int64_t>() * 1000
                                                             : std::llround(e["ts"].get<double>() * 1000.0);
      s.inexact_start = s.inexact_start || !e["ts"].is_number_integer();
      s.first_start_ns = std::min<std::int64_t>(s.first_start_ns, ts_ns + base);
    }
    if (ph == "X" && (cat == "cpu_op" || cat == "cuda_runtime")) threads.insert({e["pid"].dump(), e["tid"].dump()});
    if ((ph == "s" || ph == "f") && cat == "ac2g") {
      auto& ends = flow_ends[e["id"].dump()];
      (ph == "s" ? ends.first : ends.second)++;
    }
  }
  for (const auto& [id, ends] : flow_ends) ref.launch_flows += ends.first > 0 && ends.second > 0;
  ref.host_threads = threads.size();
  return ref;
}

void expect_matches_reference(const Trace& trace, const Reference& ref, std::int32_t rank) {
  std::map<std::pair<std::int64_t, std::int64_t>, StreamRef> got;
  std::size_t host_threads = 0;
  for (const Track& t : trace.tracks) {
    if (t.info.rank != rank) continue;
    if (t.info.kind == TrackKind::HostThread) ++host_threads;
    if (t.info.kind != TrackKind::CudaStream) continue;
    EXPECT_EQ(t.info.device_kind, DeviceKind::Gpu);
    StreamRef& s = got[{t.info.device, t.info.native_id}];
    for (const Span& sp : t.spans) {
      ++s.events;
      if (sp.category == Category::OtherComm || sp.category == Category::Dispatch || sp.category == Category::Combine) {
        ++s.nccl_kernels;
      }
      if (sp.category == Category::Memcpy) ++s.memcpy;
      s.total_dur_ns += sp.duration_ns();
      s.first_start_ns = std::min(s.first_start_ns, sp.start_ns);
    }
  }
  ASSERT_EQ(got.size(), ref.streams.size());
  for (const auto& [key, r] : ref.streams) {
    SCOPED_TRACE("device " + std::to_string(key.first) + " stream " + std::to_string(key.second));
    const StreamRef& g = got[key];
    EXPECT_EQ(g.events, r.events);
    EXPECT_EQ(g.nccl_kernels, r.nccl_kernels);
    EXPECT_EQ(g.memcpy, r.memcpy);
    EXPECT_EQ(g.total_dur_ns, r.total_dur_ns);
    EXPECT_NEAR(static_cast<double>(g.first_start_ns - r.first_start_ns), 0.0, r.inexact_start ? 1.0 : 0.0);
  }
  EXPECT_EQ(host_threads, ref.host_threads);
}

std::size_t launch_flows(const Trace& t) {
  std::size_t n = 0;
  for (const Flow& f : t.flows) {
    if (f.kind != FlowKind::Launch) continue;
    ++n;
    // A launch goes from a host op to GPU work.
    EXPECT_EQ(t.tracks[f.from.track].info.device_kind, DeviceKind::Cpu);
    EXPECT_EQ(t.tracks[f.to.track].info.device_kind, DeviceKind::Gpu);
  }
  return n;
}

TEST(KinetoImport, NcclDataMatchesAnIndependentReading) {
  const std::string path = fixture("nccl_parser_config__nccl_data.json.gz");
  const Reference ref = reference_of(path);
  const formats::LoadResult r = formats::load_traces({path});
  ASSERT_TRUE(r.trace) << r.error;
  ASSERT_TRUE(ref.rank);
  EXPECT_EQ(r.trace->ranks.at(0).rank, *ref.rank);
  expect_matches_reference(*r.trace, ref, static_cast<std::int32_t>(*ref.rank));
  EXPECT_EQ(launch_flows(*r.trace), ref.launch_flows);
  // Stream 40 carries the AllReduce / Broadcast kernels (README): all of them communication.
  EXPECT_GT(ref.streams.at({0, 40}).nccl_kernels, 0u);
  EXPECT_EQ(ref.streams.at({0, 40}).nccl_kernels, ref.streams.at({0, 40}).events);
}

TEST(KinetoImport, TwoRankFilesBecomeOneMultiRankTrace) {
  const std::string rank0 = fixture("trace_filter__sampled_rank-0.json.gz");
  const std::string rank1 = fixture("trace_filter__sampled_rank-1.json.gz");
  const Reference ref0 = reference_of(rank0);
  const Reference ref1 = reference_of(rank1);
  // Given in reverse order: ranks come from distributedInfo, not from the order of the files.
  const formats::LoadResult r = formats::load_traces({rank1, rank0});
  ASSERT_TRUE(r.trace) << r.error;
  ASSERT_EQ(r.trace->ranks.size(), 2u);
  EXPECT_EQ(r.trace->ranks[0].rank, *ref1.rank);
  EXPECT_EQ(r.trace->ranks[1].rank, *ref0.rank);
  EXPECT_EQ(r.trace->ranks[0].label, rank1);
  expect_matches_reference(*r.trace, ref0, static_cast<std::int32_t>(*ref0.rank));
  expect_matches_reference(*r.trace, ref1, static_cast<std::int32_t>(*ref1.rank));
}

TEST(KinetoImport, SameRankTwiceIsAnError) {
  const std::string rank0 = fixture("trace_filter__sampled_rank-0.json.gz");
  const formats::LoadResult r = formats::load_traces({rank0, rank0});
  EXPECT_FALSE(r.trace);
  EXPECT_NE(r.error.find("rank 0 is already loaded"), std::string::npos) << r.error;
}

TEST(KinetoImport, ProgressReachesOneAndCancelStops) {
  const std::string path = fixture("nccl_parser_config__nccl_data.json.gz");
  formats::LoadOptions options;
  double last = -1;
  bool monotonic = true;
  options.progress = [&](double f) {
    monotonic = monotonic && f >= last;
    last = f;
    return true;
  };
  ASSERT_TRUE(formats::load_traces({path}, options).trace);
  EXPECT_TRUE(monotonic);
  EXPECT_DOUBLE_EQ(last, 1.0);
  options.progress = [](double) { return false; };
  const formats::LoadResult cancelled = formats::load_traces({path}, options);
  EXPECT_FALSE(cancelled.trace);
  EXPECT_TRUE(cancelled.cancelled);
}

TEST(KinetoImport, HostOpsNestWithDepth) {
  // Independent check of depth on a hand-written trace: B/E and X mixed, children listed before parents.
  testing::TempDir dir;
  testing::write_text(dir.file("t.json"), R"([
    {"ph":"X","name":"child","pid":1,"tid":2,"ts":10,"dur":5},
    {"ph":"X","name":"parent","pid":1,"tid":2,"ts":10,"dur":50},
    {"ph":"B","name":"begin-end","pid":1,"tid":2,"ts":20},
    {"ph":"E","pid":1,"tid":2,"ts":30},
    {"ph":"X","name":"later","pid":1,"tid":2,"ts":100,"dur":1}
  ])");
  const formats::LoadResult r = formats::load_traces({dir.file("t.json")});
  ASSERT_TRUE(r.trace) << r.error;
  ASSERT_EQ(r.trace->tracks.size(), 1u);
  const auto& spans = r.trace->tracks[0].spans;
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(r.trace->name_of(spans[0]), "parent");
  EXPECT_EQ(spans[0].depth, 0);
  EXPECT_EQ(r.trace->name_of(spans[1]), "child");
  EXPECT_EQ(spans[1].depth, 1);
  EXPECT_EQ(r.trace->name_of(spans[2]), "begin-end");
  EXPECT_EQ(spans[2].start_ns, 20000);
  EXPECT_EQ(spans[2].end_ns, 30000);
  EXPECT_EQ(spans[2].depth, 1);
  EXPECT_EQ(spans[3].depth, 0);
}

TEST(KinetoImport, EscapedKeysAndStringsReadTheSameAsPlainOnes) {
  // Keys and strings without escapes are taken straight from the input; escaped ones are unescaped. Both
  // must give the same fields: "n\u0061me" is "name", "\u0063at" is "cat", and so on.
  testing::TempDir dir;
  testing::write_text(dir.file("t.json"), R"({"traceEvents":[
    {"ph":"X", "n\u0061me" : "a\"b\\c\u00e9", "pid":1, "tid":2, "ts":10, "dur":5, "args": {"k\u0065y": "v\/w", "plain" :  "x y" }},
    {"p\u0068":"X","name":"kernel \u0041","\u0063at":"kernel","pid":"gpu 0","tid":7,"ts":20,"dur":1,"args":{"device":0,"stream":7}}
  ]})");
  const formats::LoadResult r = formats::load_traces({dir.file("t.json")});
  ASSERT_TRUE(r.trace) << r.error;
  const Trace& t = *r.trace;
  ASSERT_EQ(t.span_count(), 2u);
  const Span* host = nullptr;
  const Span* gpu = nullptr;
  for (const Track& track : t.tracks) {
    for (const Span& s : track.spans) (track.info.kind == TrackKind::CudaStream ? gpu : host) = &s;
  }
  ASSERT_TRUE(host && gpu);
  EXPECT_EQ(t.name_of(*host), "a\"b\\c\xC3\xA9");
  EXPECT_EQ(t.name_of(*gpu), "kernel A");
  ASSERT_NE(host->args, kNoArgs);
  const std::span<const Arg> args = t.args[host->args];
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(t.strings.view(args[0].key), "key");
  EXPECT_EQ(args[0].value(), "v/w");
  EXPECT_EQ(t.strings.view(args[1].key), "plain");
  EXPECT_EQ(args[1].value(), "x y");
}

}  // namespace
}  // namespace scmoe::prof
