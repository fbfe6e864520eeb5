#include "scmoe/profiler/trace.h"

#include <gtest/gtest.h>

#include <string>

namespace scmoe::prof {
namespace {

TEST(StringTable, InternsEachDistinctStringOnceWithDenseIds) {
  StringTable table;
  EXPECT_EQ(table.intern("attention"), 0u);
  EXPECT_EQ(table.intern("ncclDevKernel_SendRecv"), 1u);
  EXPECT_EQ(table.intern("attention"), 0u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.view(1), "ncclDevKernel_SendRecv");
  EXPECT_FALSE(table.find("mlp").has_value());
}

TEST(StringTable, ViewsStayValidWhileTheTableGrows) {
  // Short strings live inside std::string (SSO): a container that moved them would leave the lookup
  // index pointing at freed memory. Grow far past any reallocation point and look the first one up.
  StringTable table;
  const std::uint32_t first = table.intern("x");
  for (int i = 0; i < 10000; ++i) table.intern("s" + std::to_string(i));
  EXPECT_EQ(table.find("x"), first);
  EXPECT_EQ(table.intern("s9999"), 10000u);
  EXPECT_EQ(table.view(first), "x");
}

TEST(Category, NamesRoundTripAndClassify) {
  for (int i = 0; i < kCategoryCount; ++i) {
    const auto c = static_cast<Category>(i);
    EXPECT_EQ(category_from_name(category_name(c)), c);
  }
  EXPECT_TRUE(is_communication(Category::Dispatch));
  EXPECT_TRUE(is_communication(Category::OtherComm));
  EXPECT_FALSE(is_computation(Category::Combine));
  EXPECT_TRUE(is_computation(Category::Expert));
  EXPECT_FALSE(is_computation(Category::Memcpy));
  EXPECT_FALSE(is_communication(Category::Memset));
  EXPECT_FALSE(category_from_name("attn").has_value());
}

TEST(Trace, FinalizeSortsSpansAndKeepsFlowsOnTheSameSpans) {
  Trace trace;
  const std::uint32_t compute = trace.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 7, "stream 7"});
  const std::uint32_t comm = trace.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 40, "stream 40"});
  EXPECT_EQ(trace.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 7, "stream 7"}), compute);
  const std::uint32_t late = trace.strings.intern("late");
  const std::uint32_t early = trace.strings.intern("early");
  trace.tracks[compute].spans.push_back(Span{300, 400, late});
  trace.tracks[compute].spans.push_back(Span{100, 200, early});
  trace.tracks[comm].spans.push_back(Span{150, 350, trace.strings.intern("a2a")});
  trace.flows.push_back(Flow{{compute, 0}, {comm, 0}, FlowKind::MoePipeline});  // "late" -> a2a
  trace.finalize();
  EXPECT_EQ(trace.tracks[compute].spans[0].name, early);
  EXPECT_EQ(trace.tracks[compute].spans[1].name, late);
  EXPECT_EQ(trace.flows[0].from, (SpanRef{compute, 1}));
  EXPECT_EQ(trace.flows[0].to, (SpanRef{comm, 0}));
  EXPECT_EQ(trace.begin_ns(), 100);
  EXPECT_EQ(trace.end_ns(), 400);
  EXPECT_EQ(trace.span_count(), 3u);
}

}  // namespace
}  // namespace scmoe::prof

namespace scmoe::prof {
namespace {

// The reference: a plain vector of (key, value) lists.
using ReferenceArgs = std::vector<std::vector<std::pair<std::uint32_t, std::string>>>;

void expect_same_args(const ArgTable& table, const ReferenceArgs& reference) {
  ASSERT_EQ(table.size(), reference.size());
  for (std::uint32_t i = 0; i < reference.size(); ++i) {
    const std::span<const Arg> list = table[i];
    ASSERT_EQ(list.size(), reference[i].size()) << "list " << i;
    for (std::size_t k = 0; k < list.size(); ++k) {
      EXPECT_EQ(list[k].key, reference[i][k].first) << "list " << i << " arg " << k;
      EXPECT_EQ(list[k].value(), reference[i][k].second) << "list " << i << " arg " << k;
    }
  }
}

// Lists of 0..40 args with values of 0..70 bytes, plus a few texts larger than a block and a list larger
// than the first segments, so lists cross segment ends (they must move along, whole) and texts cross
// block ends.
ReferenceArgs fill(ArgTable& table, int lists, std::uint32_t seed) {
  ReferenceArgs reference;
  std::uint32_t x = seed;
  auto next = [&] { return x = x * 1664525u + 1013904223u; };
  for (int i = 0; i < lists; ++i) {
    auto& ref = reference.emplace_back();
    const std::uint32_t n = i == 7 ? 5000 : next() % 41;
    for (std::uint32_t k = 0; k < n; ++k) {
      std::string value(i % 500 == 3 && k == 0 ? (1u << 20) + 17 : next() % 71, 'a');
      for (char& c : value) c = static_cast<char>('a' + next() % 26);
      ref.emplace_back(next() % 1000, value);
      table.push(ref.back().first, ref.back().second);
    }
    EXPECT_EQ(table.close_list(), static_cast<std::uint32_t>(i));
  }
  return reference;
}

TEST(ArgTable, ListsSurviveSegmentAndBlockEnds) {
  ArgTable table;
  const ReferenceArgs reference = fill(table, 20000, 1);
  expect_same_args(table, reference);
  // Far less than the 24-40 bytes per arg of a vector of strings per list.
  std::size_t args = 0, text = 0;
  for (const auto& list : reference) {
    args += list.size();
    for (const auto& [k, v] : list) text += v.size();
  }
  EXPECT_LT(table.memory_bytes(), text + args * 16 * 2 + (std::size_t{8} << 20));
}

TEST(ArgTable, CopiesOwnTheirTextsAndMovesKeepEveryList) {
  ReferenceArgs reference;
  ArgTable copy;
  {
    ArgTable original;
    reference = fill(original, 3000, 2);
    copy = original;
    ArgTable moved(std::move(original));
    expect_same_args(moved, reference);
    EXPECT_TRUE(original.empty());  // NOLINT(bugprone-use-after-move): moved-from is documented empty
    original.push(1, "reused");      // and usable: it must not write into the moved storage
    EXPECT_EQ(original.close_list(), 0u);
    expect_same_args(moved, reference);
  }
  expect_same_args(copy, reference);
}

TEST(ArgTable, AppendMapsKeysAndTakesTheOtherStorage) {
  ArgTable a, b;
  ReferenceArgs ra = fill(a, 500, 3);
  const ReferenceArgs rb = fill(b, 700, 4);
  std::vector<std::uint32_t> key_map(1000);
  for (std::uint32_t k = 0; k < key_map.size(); ++k) key_map[k] = 5000 + k;
  a.append(std::move(b), key_map);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  for (auto list : rb) {
    for (auto& [k, v] : list) k = 5000 + k;
    ra.push_back(list);
  }
  expect_same_args(a, ra);
  // Lists added after the append land after the appended ones.
  EXPECT_EQ(a.add({{1, "x"}, {2, "yz"}}), 1200u);
  EXPECT_EQ(a[1200][1].value(), "yz");
}

TEST(ArgTable, EmptyListsAndEmptyValues) {
  Trace t;
  EXPECT_EQ(t.add_args({}), kNoArgs);
  const std::uint32_t id = t.add_args({{3, ""}, {4, "v"}});
  ASSERT_EQ(t.args[id].size(), 2u);
  EXPECT_EQ(t.args[id][0].value(), "");
  EXPECT_EQ(t.args[id][1].value(), "v");
  EXPECT_EQ(t.args.close_list(), id + 1);  // an empty list is still a list in the table
  EXPECT_TRUE(t.args[id + 1].empty());
}

}  // namespace
}  // namespace scmoe::prof
