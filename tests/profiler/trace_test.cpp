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
