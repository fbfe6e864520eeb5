// Native and Chrome JSON round trips, the structural check of the Chrome export, CSV output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "formats_test_util.h"
#include "scmoe/profiler/formats/chrome_json_export.h"
#include "scmoe/profiler/formats/csv.h"
#include "scmoe/profiler/formats/load.h"
#include "scmoe/profiler/formats/native.h"

namespace scmoe::prof {
namespace {

using testing::TempDir;

Trace load_one(const std::string& path) {
  formats::LoadResult r = formats::load_traces({path});
  EXPECT_TRUE(r.trace) << r.error;
  return r.trace ? std::move(*r.trace) : Trace{};
}

TEST(NativeFormat, RoundTripsEveryField) {
  TempDir dir;
  const Trace original = testing::make_sample_trace();
  ASSERT_EQ(formats::save_trace(original, dir.file("t.scmoe")), "");
  const std::string bytes = testing::read_text(dir.file("t.scmoe"));
  EXPECT_EQ(bytes.substr(0, 8), "SCMOETRC");  // what packaging/scmoe-studio-mime.xml matches
  const Trace loaded = load_one(dir.file("t.scmoe"));
  testing::expect_same_trace(original, loaded);
}

TEST(NativeFormat, ReadsVersion1Files) {
  TempDir dir;
  const Trace original = testing::make_sample_trace();
  const std::string v1 = formats::encode_native_v1(original);
  std::uint32_t version = 0;
  std::memcpy(&version, v1.data() + 8, 4);
  ASSERT_EQ(version, 1u);
  testing::write_text(dir.file("v1.scmoe"), v1);
  testing::expect_same_trace(original, load_one(dir.file("v1.scmoe")));
}

// Many span blocks (8192 spans each) in tracks of different lengths, decoded in parallel: every field of
// every span comes back, including starts that go backwards and the extremes of int64.
void expect_blocks_round_trip(const std::vector<std::size_t>& lengths) {
  TempDir dir;
  Trace original;
  std::vector<std::uint32_t> names;
  for (int i = 0; i < 50; ++i) names.push_back(original.strings.intern("op " + std::to_string(i)));
  original.args.add({{names[0], "v"}});
  std::uint64_t x = 12345;
  auto next = [&] { return x = x * 6364136223846793005ull + 1442695040888963407ull; };
  for (std::size_t k = 0; k < lengths.size(); ++k) {
    const auto track = original.track_for({static_cast<std::int32_t>(k), 0, DeviceKind::Gpu, TrackKind::CudaStream,
                                           static_cast<std::int64_t>(k), "s" + std::to_string(k)});
    for (std::size_t i = 0; i < lengths[k]; ++i) {
      Span s;
      s.start_ns = static_cast<std::int64_t>(next() >> 20) - (std::int64_t{1} << 43);
      s.end_ns = s.start_ns + static_cast<std::int64_t>(next() % 1000000);
      if (i == 3) s.start_ns = s.end_ns = std::numeric_limits<std::int64_t>::min();
      if (i == 4) s.start_ns = s.end_ns = std::numeric_limits<std::int64_t>::max();
      s.name = names[next() % names.size()];
      s.args = next() % 3 == 0 ? 0 : kNoArgs;
      s.layer = static_cast<std::int32_t>(next() % 100) - 1;
      s.iteration = static_cast<std::int32_t>(next());
      s.op_instance = static_cast<std::int32_t>(next() % 7) - 1;
      s.category = static_cast<Category>(next() % kCategoryCount);
      s.flags = static_cast<std::uint8_t>(next());
      s.depth = static_cast<std::uint16_t>(next());
      original.tracks[track].spans.push_back(s);
    }
  }
  original.flows.push_back({{0, 0}, {static_cast<std::uint32_t>(lengths.size() - 1), 0}, FlowKind::Launch});
  ASSERT_EQ(formats::save_trace(original, dir.file("m.scmoe")), "");
  const Trace loaded = load_one(dir.file("m.scmoe"));
  testing::expect_same_trace(original, loaded);
  ASSERT_EQ(loaded.tracks.size(), lengths.size());
  for (std::size_t k = 0; k < lengths.size(); ++k) {
    ASSERT_EQ(loaded.tracks[k].spans.size(), lengths[k]);
    for (std::size_t i = 0; i < lengths[k]; ++i) {
      const Span& a = original.tracks[k].spans[i];
      const Span& b = loaded.tracks[k].spans[i];
      ASSERT_TRUE(a.start_ns == b.start_ns && a.end_ns == b.end_ns && a.name == b.name && a.args == b.args &&
                  a.layer == b.layer && a.iteration == b.iteration && a.op_instance == b.op_instance &&
                  a.category == b.category && a.flags == b.flags && a.depth == b.depth)
          << "track " << k << " span " << i;
    }
  }
}

// One track with most spans (threads share its blocks), and tracks of similar size (threads take whole
// tracks): the reader's two ways of sharing the work.
TEST(NativeFormat, RoundTripsManyBlocksInOneLargeTrack) { expect_blocks_round_trip({1, 8191, 8192, 8193, 40000, 0, 17}); }
TEST(NativeFormat, RoundTripsManyBlocksInSimilarTracks) { expect_blocks_round_trip({20000, 0, 19999, 16385, 20000, 3}); }

TEST(NativeFormat, RoundTripsAKinetoFixture) {
  TempDir dir;
  const Trace original = load_one(testing::fixture("trace_filter__sampled_rank-1.json.gz"));
  ASSERT_GT(original.span_count(), 1000u);
  ASSERT_EQ(formats::save_trace(original, dir.file("k.scmoe")), "");
  testing::expect_same_trace(original, load_one(dir.file("k.scmoe")));
}

TEST(NativeFormat, SaveLeavesNoTemporaryFilesAndReplacesAtomically) {
  TempDir dir;
  const Trace t = testing::make_sample_trace();
  testing::write_text(dir.file("t.scmoe"), "old content");
  ASSERT_EQ(formats::save_trace(t, dir.file("t.scmoe")), "");
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "t.scmoe");
  }
  EXPECT_EQ(files, 1u);
  EXPECT_NE(formats::save_trace(t, dir.file("no/such/dir/t.scmoe")), "");
  EXPECT_NE(formats::save_trace(t, dir.file("t.unknown")).find("unknown output format"), std::string::npos);
  EXPECT_EQ(formats::output_format_error("a/b.json.gz"), "");
  EXPECT_NE(formats::output_format_error("a/b.jsonl"), "");
}

// Structural check of a Chrome trace, written independently of the exporter: every X event has numeric
// ts/dur, no two X events on one (pid, tid) overlap partially, and every flow has both ends.
void expect_valid_chrome_trace(const nlohmann::json& doc) {
  ASSERT_TRUE(doc.contains("traceEvents"));
  std::map<std::pair<long long, long long>, std::vector<std::pair<double, double>>> by_thread;
  std::map<long long, int> flow_ends;
  std::map<std::pair<long long, long long>, std::string> thread_names;
  for (const auto& e : doc["traceEvents"]) {
    const std::string ph = e.at("ph");
    if (ph == "X") {
      ASSERT_TRUE(e.at("ts").is_number()) << e.dump();
      ASSERT_TRUE(e.at("dur").is_number()) << e.dump();
      ASSERT_TRUE(e.at("pid").is_number_integer());
      ASSERT_TRUE(e.at("tid").is_number_integer());
      ASSERT_TRUE(e.at("name").is_string());
      by_thread[{e["pid"], e["tid"]}].push_back({e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>()});
    } else if (ph == "s" || ph == "f") {
      flow_ends[e.at("id").get<long long>()] += ph == "s" ? 1 : 2;
      if (ph == "f") {
        EXPECT_EQ(e.at("bp"), "e");
      }
    } else if (ph == "M" && e.at("name") == "thread_name") {
      thread_names[{e["pid"], e["tid"]}] = e["args"]["name"];
    }
  }
  for (auto& [thread, spans] : by_thread) {
    EXPECT_TRUE(thread_names.count(thread)) << "every tid is named";
    std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
    std::vector<double> open;
    for (const auto& [start, end] : spans) {
      while (!open.empty() && open.back() <= start) open.pop_back();
      ASSERT_TRUE(open.empty() || end <= open.back())
          << "partial overlap on pid " << thread.first << " tid " << thread.second << " at " << start;
      open.push_back(end);
    }
  }
  for (const auto& [id, ends] : flow_ends) EXPECT_EQ(ends, 3) << "flow " << id;
}

TEST(ChromeExport, PassesTheStructuralCheckAndSplitsOverlaps) {
  TempDir dir;
  const Trace t = testing::make_sample_trace();
  ASSERT_EQ(formats::save_trace(t, dir.file("t.json")), "");
  const std::string text = testing::read_text(dir.file("t.json"));
  const nlohmann::json doc = nlohmann::json::parse(text);
  expect_valid_chrome_trace(doc);
  // The partially overlapping kernel of each rank went to an extra tid.
  std::size_t overlap_threads = 0;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name" &&
        e["args"]["name"].get<std::string>().find("(overlap 1)") != std::string::npos) {
      ++overlap_threads;
    }
  }
  EXPECT_EQ(overlap_threads, 2u);
  // Nanosecond precision in microseconds: the sample's expert span is 1001 ns long.
  EXPECT_NE(text.find("\"dur\":1.001"), std::string::npos);
  EXPECT_NE(text.find("\"ts\":1700000000000001.6,"), std::string::npos);
}

TEST(ChromeExport, RoundTripsThroughTheImporter) {
  TempDir dir;
  const Trace original = testing::make_sample_trace();
  for (const std::string name : {"t.json", "t.json.gz"}) {
    ASSERT_EQ(formats::save_trace(original, dir.file(name)), "");
    testing::expect_same_trace(original, load_one(dir.file(name)));
  }
}

TEST(ChromeExport, KinetoFixtureRoundTripsAndStaysValid) {
  TempDir dir;
  const Trace original = load_one(testing::fixture("trace_filter__sampled_rank-0.json.gz"));
  ASSERT_EQ(formats::save_trace(original, dir.file("k.json")), "");
  expect_valid_chrome_trace(nlohmann::json::parse(testing::read_text(dir.file("k.json"))));
  testing::expect_same_trace(original, load_one(dir.file("k.json")));
}

TEST(ChromeExport, InvalidUtf8StillGivesValidJson) {
  Trace t;
  const auto track = t.track_for({0, 0, DeviceKind::Cpu, TrackKind::HostThread, 1, "bad \xFF name"});
  Span s;
  s.name = t.strings.intern("kernel \xC3\x28 \x01");
  s.end_ns = 10;
  t.tracks[track].spans.push_back(s);
  std::string out;
  formats::write_chrome_json(t, [&](std::string_view chunk) { out.append(chunk); });
  const auto doc = nlohmann::json::parse(out);  // throws on invalid JSON
  expect_valid_chrome_trace(doc);
}

TEST(Csv, QuotesFieldsThatNeedIt) {
  std::string out;
  formats::append_csv_row(out, {"plain", "with,comma", "with \"quote\"", "multi\nline", " padded", ""});
  EXPECT_EQ(out, "plain,\"with,comma\",\"with \"\"quote\"\"\",\"multi\nline\",\" padded\",\n");
}

TEST(Csv, WriteCsvWritesHeaderAndRowsAtomically) {
  TempDir dir;
  ASSERT_EQ(formats::write_csv(dir.file("t.csv"), {"op", "total_ns"}, {{"dispatch, a2a", "10"}, {"expert", "20"}}), "");
  EXPECT_EQ(testing::read_text(dir.file("t.csv")), "op,total_ns\n\"dispatch, a2a\",10\nexpert,20\n");
  EXPECT_NE(formats::write_csv(dir.file("missing/t.csv"), {"a"}, {}), "");
}

TEST(Csv, SpanExportHasOneRowPerSpan) {
  TempDir dir;
  const Trace t = testing::make_sample_trace();
  ASSERT_EQ(formats::save_trace(t, dir.file("spans.csv")), "");
  const std::string text = testing::read_text(dir.file("spans.csv"));
  EXPECT_EQ(text.rfind("rank,device,track,name,category,start_ns,end_ns,duration_ns,layer,iteration,flags\n", 0), 0u);
  // Independent expectation for the expert span of rank 0 (track "stream 7", spans sorted by start).
  EXPECT_NE(text.find("0,gpu:0,stream 7,expert,expert,1700000000000001600,1700000000000002601,1001,2,3,dropped\n"),
            std::string::npos);
  EXPECT_NE(text.find("0,gpu:0,\"comm, lane\",ncclDevKernel_SendRecv(ncclDevComm*),combine,"), std::string::npos);
  EXPECT_NE(text.find(",emulated|predicted\n"), std::string::npos);
  // Rows: header + spans; fields with embedded newlines are quoted, none in the sample.
  EXPECT_EQ(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')), 1 + t.span_count());
}

}  // namespace
}  // namespace scmoe::prof
