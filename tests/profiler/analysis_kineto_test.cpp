// Overlap on real PyTorch-profiler traces (HolisticTraceAnalysis test data) against a reference that reads
// the gzipped JSON itself: zlib + nlohmann's SAX parser (which hands over each number's original text, so
// "ts": 4458676983543.183 becomes exactly 4458676983543183 ns), kernels split into NCCL and the rest,
// unions by sorting interval ends. Nothing of the importer or the analysis code is used for the reference.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scmoe/profiler/analysis/collectives.h"
#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/formats/load.h"

namespace scmoe::prof::analysis {
namespace {

const std::string kDir = SCMOE_FIXTURES_DIR "/kineto/";

std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  std::string out;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(f, buffer, sizeof buffer)) > 0) out.append(buffer, std::size_t(n));
  gzclose(f);
  return out;
}

// Microseconds as decimal text -> integer nanoseconds, exactly.
std::int64_t us_text_to_ns(const std::string& text) {
  const auto dot = text.find('.');
  std::int64_t ns = std::stoll(text.substr(0, dot)) * 1000;
  if (dot != std::string::npos) {
    std::string frac = text.substr(dot + 1, 3);
    frac.resize(3, '0');
    ns += std::stoll(frac);
  }
  return ns;
}

struct Event {
  std::string cat, name, ph, ts, dur;
};

// Collects the flat fields of each object in the top-level "traceEvents" array. Depth counts objects
// and arrays: the root object is 1, the array 2, each event object 3, its "args" 4.
struct EventCollector : nlohmann::json_sax<nlohmann::json> {
  std::vector<Event> events;
  std::int64_t base_ns = 0;
  int depth = 0;
  bool in_events = false;
  std::string key_at_1, key_at_3;
  Event current;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t v) override { return scalar(std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(std::to_string(v)); }
  bool number_float(number_float_t, const string_t& text) override { return scalar(text); }
  bool string(string_t& s) override { return scalar(s); }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth;
    if (in_events && depth == 3) current = Event{};
    return true;
  }
  bool end_object() override {
    if (in_events && depth == 3) events.push_back(current);
    --depth;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth == 1 && key_at_1 == "traceEvents") in_events = true;
    ++depth;
    return true;
  }
  bool end_array() override {
    --depth;
    if (depth == 1) in_events = false;
    return true;
  }
  bool key(string_t& k) override {
    if (depth == 1) key_at_1 = k;
    if (depth == 3) key_at_3 = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

  bool scalar(const std::string& text) {
    if (depth == 1 && key_at_1 == "baseTimeNanoseconds") base_ns = std::stoll(text);
    if (!(in_events && depth == 3)) return true;  // nested args and other documents parts are not needed
    if (key_at_3 == "cat") current.cat = text;
    if (key_at_3 == "name") current.name = text;
    if (key_at_3 == "ph") current.ph = text;
    if (key_at_3 == "ts") current.ts = text;
    if (key_at_3 == "dur") current.dur = text;
    return true;
  }
};

using Ranges = std::vector<std::pair<std::int64_t, std::int64_t>>;

// Union length of ranges, and of the intersection of two unions, by sorted sweeps.
Ranges union_of(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& [s, e] : r) {
    if (e <= s) continue;
    if (!out.empty() && s <= out.back().second) {
      out.back().second = std::max(out.back().second, e);
    } else {
      out.emplace_back(s, e);
    }
  }
  return out;
}
std::int64_t length(const Ranges& r) {
  std::int64_t n = 0;
  for (const auto& [s, e] : r) n += e - s;
  return n;
}
std::int64_t overlap_length(const Ranges& a, const Ranges& b) {
  std::int64_t n = 0;
  for (const auto& [s, e] : a) {
    for (const auto& [t, f] : b) n += std::max<std::int64_t>(0, std::min(e, f) - std::max(s, t));
  }
  return n;
}
Ranges clipped(const Ranges& r, std::int64_t lo, std::int64_t hi) {
  Ranges out;
  for (const auto& [s, e] : r) {
    if (std::min(e, hi) > std::max(s, lo)) out.emplace_back(std::max(s, lo), std::min(e, hi));
  }
  return out;
}

struct Reference {
  Ranges comm, compute;
  std::vector<std::pair<std::int32_t, std::pair<std::int64_t, std::int64_t>>> steps;  // ProfilerStep#N windows
};

Reference reference_for(const std::string& file) {
  const std::string text = gunzip(kDir + file);
  EventCollector sax;
  EXPECT_TRUE(nlohmann::json::sax_parse(text, &sax)) << file;
  Reference ref;
  Ranges comm, compute;
  for (const Event& e : sax.events) {
    if (e.ph != "X" || e.ts.empty()) continue;
    const std::int64_t start = us_text_to_ns(e.ts) + sax.base_ns;
    const std::int64_t end = start + (e.dur.empty() ? 0 : us_text_to_ns(e.dur));
    if (e.cat == "kernel") (e.name.find("nccl") != std::string::npos ? comm : compute).emplace_back(start, end);
    if (e.name.rfind("ProfilerStep#", 0) == 0) ref.steps.push_back({std::stoi(e.name.substr(13)), {start, end}});
  }
  ref.comm = union_of(comm);
  ref.compute = union_of(compute);
  std::sort(ref.steps.begin(), ref.steps.end());
  return ref;
}

void expect_matches(const OverlapReport& report, std::int32_t rank, const Reference& ref) {
  const auto row = std::find_if(report.whole_trace.begin(), report.whole_trace.end(),
                                [&](const OverlapRow& r) { return r.rank == rank; });
  ASSERT_NE(row, report.whole_trace.end()) << "rank " << rank;
  ASSERT_GT(length(ref.comm), 0) << "the fixture has NCCL kernels";
  EXPECT_EQ(row->total.comm_ns, length(ref.comm)) << "rank " << rank;
  EXPECT_EQ(row->total.compute_ns, length(ref.compute)) << "rank " << rank;
  const std::int64_t overlapped = overlap_length(ref.comm, ref.compute);
  EXPECT_EQ(row->total.overlapped_ns, overlapped) << "rank " << rank;
  EXPECT_EQ(row->total.exposed_ns, length(ref.comm) - overlapped) << "rank " << rank;

  std::vector<const OverlapRow*> steps;
  for (const OverlapRow& r : report.per_iteration) {
    if (r.rank == rank) steps.push_back(&r);
  }
  ASSERT_EQ(steps.size(), ref.steps.size()) << "one row per ProfilerStep";
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto [lo, hi] = ref.steps[i].second;
    EXPECT_EQ(steps[i]->iteration, ref.steps[i].first);
    EXPECT_EQ(steps[i]->wall_ns, hi - lo);
    const Ranges c = clipped(ref.comm, lo, hi), k = clipped(ref.compute, lo, hi);
    EXPECT_EQ(steps[i]->total.comm_ns, length(c)) << "step " << ref.steps[i].first;
    EXPECT_EQ(steps[i]->total.overlapped_ns, overlap_length(c, k)) << "step " << ref.steps[i].first;
  }
}

TEST(KinetoOverlap, NcclTraceMatchesIndependentReference) {
  const std::string file = "nccl_parser_config__nccl_data.json.gz";
  formats::LoadResult loaded = formats::load_traces({kDir + file});
  ASSERT_TRUE(loaded.trace) << loaded.error;
  const OverlapReport report = analyze_overlap(*loaded.trace);
  EXPECT_EQ(report.iteration_source, IterationSource::ProfilerSteps);
  expect_matches(report, 0, reference_for(file));
}

TEST(KinetoOverlap, RankPairOpensAsOneTraceAndMatchesPerRank) {
  const std::string f0 = "trace_filter__sampled_rank-0.json.gz", f1 = "trace_filter__sampled_rank-1.json.gz";
  formats::LoadResult loaded = formats::load_traces({kDir + f0, kDir + f1});
  ASSERT_TRUE(loaded.trace) << loaded.error;
  const OverlapReport report = analyze_overlap(*loaded.trace);
  ASSERT_EQ(report.whole_trace.size(), 3u) << "two ranks and their sum";
  const Reference r0 = reference_for(f0), r1 = reference_for(f1);
  expect_matches(report, 0, r0);
  expect_matches(report, 1, r1);
  EXPECT_EQ(report.whole_trace[2].rank, kAllRanks);
  EXPECT_EQ(report.whole_trace[2].total.comm_ns, length(r0.comm) + length(r1.comm));
}

// Ranks side by side on the rank pair, against a reference that pairs the k-th NCCL kernel of each name
// (argument list cut off) of one file with the k-th of the other, read straight from the JSON.
TEST(KinetoCollectives, RankPairMatchesIndependentPairing) {
  const std::string f0 = "trace_filter__sampled_rank-0.json.gz", f1 = "trace_filter__sampled_rank-1.json.gz";
  auto nccl_kernels = [](const std::string& file) {
    EventCollector sax;
    const std::string text = gunzip(kDir + file);
    EXPECT_TRUE(nlohmann::json::sax_parse(text, &sax)) << file;
    std::map<std::string, std::vector<std::int64_t>> starts;  // name -> starts, ascending
    for (const Event& e : sax.events) {
      if (e.ph != "X" || e.cat != "kernel" || e.name.find("nccl") == std::string::npos) continue;
      starts[e.name.substr(0, e.name.find('('))].push_back(us_text_to_ns(e.ts) + sax.base_ns);
    }
    for (auto& [name, v] : starts) std::sort(v.begin(), v.end());
    return starts;
  };
  const auto r0 = nccl_kernels(f0), r1 = nccl_kernels(f1);
  std::size_t pairs = 0, single = 0;
  std::int64_t total_wait = 0, max_wait = 0;
  std::map<int, std::size_t> last;  // rank -> times it arrived last
  for (const auto& [name, a] : r0) {
    const auto it = r1.find(name);
    const std::size_t n = it == r1.end() ? 0 : std::min(a.size(), it->second.size());
    for (std::size_t k = 0; k < n; ++k) {
      const std::int64_t x = a[k], y = it->second[k];
      total_wait += std::abs(x - y);
      max_wait = std::max(max_wait, std::abs(x - y));
      if (x != y) ++last[y > x ? 1 : 0];
    }
    pairs += n;
    single += a.size() - n + (it == r1.end() ? 0 : it->second.size() - n);
  }
  for (const auto& [name, b] : r1) single += r0.count(name) == 0 ? b.size() : 0;
  ASSERT_GT(pairs, 0u);

  formats::LoadResult loaded = formats::load_traces({kDir + f0, kDir + f1});
  ASSERT_TRUE(loaded.trace) << loaded.error;
  const CollectivesReport report = analyze_collectives(*loaded.trace);
  EXPECT_FALSE(report.by_sequence) << "these files carry no sequence numbers";
  EXPECT_EQ(report.collectives.size(), pairs);
  EXPECT_EQ(report.unmatched, single);
  std::int64_t got_total = 0, got_max = 0;
  std::map<int, std::size_t> got_last;
  for (const CollectiveInstance& c : report.collectives) {
    got_total += c.wait_ns;
    got_max = std::max(got_max, c.wait_ns);
    if (c.wait_ns > 0) ++got_last[c.straggler];
  }
  EXPECT_EQ(got_total, total_wait);
  EXPECT_EQ(got_max, max_wait);
  EXPECT_EQ(got_last, last);
}

}  // namespace
}  // namespace scmoe::prof::analysis
