// Interval algebra against a per-nanosecond bitmap reference on thousands of random small cases.
#include <gtest/gtest.h>

#include <random>

#include "scmoe/profiler/analysis/intervals.h"

namespace scmoe::prof::analysis {
namespace {

constexpr int kHorizon = 200;
using Bitmap = std::vector<bool>;

Bitmap paint(const std::vector<Interval>& intervals) {
  Bitmap b(kHorizon, false);
  for (const Interval& i : intervals) {
    for (std::int64_t t = i.start; t < i.end; ++t) b[std::size_t(t)] = true;
  }
  return b;
}

// A well-formed set: sorted, non-empty ranges, separated by gaps.
void expect_canonical(const IntervalSet& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_LT(s[i].start, s[i].end);
    if (i > 0) {
      EXPECT_LT(s[i - 1].end, s[i].start) << "ranges must neither touch nor overlap";
    }
  }
}

std::vector<Interval> random_intervals(std::mt19937& rng, int max_count) {
  std::uniform_int_distribution<int> count(0, max_count), start(0, kHorizon - 1), len(0, 30);
  std::vector<Interval> out;
  for (int n = count(rng); n > 0; --n) {
    const std::int64_t s = start(rng);
    out.push_back(Interval{s, std::min<std::int64_t>(kHorizon, s + len(rng))});
  }
  return out;
}

TEST(Intervals, RandomSetOperationsMatchBitmaps) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 3000; ++round) {
    const auto raw_a = random_intervals(rng, 12), raw_b = random_intervals(rng, 12);
    const IntervalSet a = make_interval_set(raw_a), b = make_interval_set(raw_b);
    expect_canonical(a);
    ASSERT_EQ(paint(a), paint(raw_a));
    const Bitmap pa = paint(raw_a), pb = paint(raw_b);
    Bitmap u(kHorizon), i(kHorizon), d(kHorizon);
    std::int64_t both = 0;
    for (int t = 0; t < kHorizon; ++t) {
      u[t] = pa[t] || pb[t];
      i[t] = pa[t] && pb[t];
      d[t] = pa[t] && !pb[t];
      both += i[t];
    }
    const IntervalSet su = unite(a, b), si = intersect(a, b), sd = subtract(a, b);
    expect_canonical(su);
    expect_canonical(si);
    expect_canonical(sd);
    ASSERT_EQ(paint(su), u) << "round " << round;
    ASSERT_EQ(paint(si), i) << "round " << round;
    ASSERT_EQ(paint(sd), d) << "round " << round;
    ASSERT_EQ(intersection_length(a, b), both);
    ASSERT_EQ(total_length(a), std::count(pa.begin(), pa.end(), true));

    std::uniform_int_distribution<int> w(0, kHorizon);
    std::int64_t ws = w(rng), we = w(rng);
    if (ws > we) std::swap(ws, we);
    Bitmap clipped(kHorizon, false);
    for (std::int64_t t = ws; t < we; ++t) clipped[std::size_t(t)] = pa[std::size_t(t)];
    const IntervalSet sc = clip(a, Interval{ws, we});
    ASSERT_EQ(paint(sc), clipped) << "clip to [" << ws << "," << we << ")";
  }
}

TEST(Intervals, UniteAllMatchesBitmapOfEverySet) {
  std::mt19937 rng(99);
  for (int round = 0; round < 500; ++round) {
    std::vector<IntervalSet> sets;
    std::vector<Interval> all;
    const int k = std::uniform_int_distribution<int>(0, 7)(rng);
    for (int s = 0; s < k; ++s) {
      auto raw = random_intervals(rng, 6);
      all.insert(all.end(), raw.begin(), raw.end());
      sets.push_back(make_interval_set(raw));
    }
    const IntervalSet u = unite_all(sets);
    expect_canonical(u);
    ASSERT_EQ(paint(u), paint(all));
  }
}

TEST(Intervals, EdgeCasesOfSpanUnions) {
  auto span = [](std::int64_t s, std::int64_t e, Category c = Category::Expert) {
    Span sp;
    sp.start_ns = s;
    sp.end_ns = e;
    sp.category = c;
    return sp;
  };
  const std::uint32_t compute = computation_mask();
  EXPECT_TRUE(union_of_sorted_spans(std::vector<Span>{}, compute).empty());
  // Touching spans merge into one range; zero-length spans vanish; nested spans add nothing.
  const std::vector<Span> spans = {span(0, 5), span(5, 10), span(6, 8), span(12, 12), span(20, 30),
                                   span(25, 26, Category::Dispatch)};
  EXPECT_EQ(union_of_sorted_spans(spans, compute), (IntervalSet{{0, 10}, {20, 30}}));
  EXPECT_EQ(union_of_sorted_spans(spans, communication_mask()), (IntervalSet{{25, 26}}));
  EXPECT_EQ(union_of_sorted_spans(spans, [](const Span& s) { return s.end_ns <= 10; }), (IntervalSet{{0, 10}}));
  EXPECT_EQ(subtract(IntervalSet{{0, 10}}, IntervalSet{{0, 10}}), IntervalSet{});
  EXPECT_EQ(subtract(IntervalSet{{0, 10}, {20, 30}}, IntervalSet{{5, 25}}), (IntervalSet{{0, 5}, {25, 30}}));
  EXPECT_EQ(clip(IntervalSet{{0, 10}}, Interval{10, 10}), IntervalSet{});
  EXPECT_EQ(communication_mask() & compute, 0u);
  EXPECT_EQ(communication_mask() & category_bit(Category::Memcpy), 0u);
  EXPECT_EQ(compute & category_bit(Category::Memset), 0u);
}

}  // namespace
}  // namespace scmoe::prof::analysis
