#include "scmoe/profiler/analysis/intervals.h"

#include <algorithm>

namespace scmoe::prof::analysis {

IntervalSet union_of_sorted_spans(std::span<const Span> spans, const std::function<bool(const Span&)>& keep) {
  IntervalSet out;
  for (const Span& s : spans) {
    if (keep(s)) append_in_start_order(out, s.start_ns, s.end_ns);
  }
  return out;
}

IntervalSet union_of_sorted_spans(std::span<const Span> spans, std::uint32_t category_mask) {
  IntervalSet out;
  for (const Span& s : spans) {
    if ((category_mask & category_bit(s.category)) != 0) append_in_start_order(out, s.start_ns, s.end_ns);
  }
  return out;
}

IntervalSet make_interval_set(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.start < b.start; });
  IntervalSet out;
  for (const Interval& i : intervals) append_in_start_order(out, i.start, i.end);
  return out;
}

IntervalSet unite(const IntervalSet& a, const IntervalSet& b) {
  IntervalSet out;
  out.reserve(a.size() + b.size());
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const bool take_a = j == b.size() || (i < a.size() && a[i].start <= b[j].start);
    const Interval& next = take_a ? a[i++] : b[j++];
    append_in_start_order(out, next.start, next.end);
  }
  return out;
}

IntervalSet intersect(const IntervalSet& a, const IntervalSet& b) {
  IntervalSet out;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const std::int64_t start = std::max(a[i].start, b[j].start);
    const std::int64_t end = std::min(a[i].end, b[j].end);
    if (start < end) out.push_back(Interval{start, end});
    // Advance whichever range ends first; it cannot meet anything further in the other list.
    if (a[i].end < b[j].end) ++i; else ++j;
  }
  return out;
}

IntervalSet subtract(const IntervalSet& a, const IntervalSet& b) {
  IntervalSet out;
  std::size_t j = 0;
  for (const Interval& range : a) {
    std::int64_t cursor = range.start;
    while (j < b.size() && b[j].end <= cursor) ++j;
    std::size_t k = j;
    while (k < b.size() && b[k].start < range.end) {
      if (b[k].start > cursor) out.push_back(Interval{cursor, b[k].start});
      cursor = std::max(cursor, b[k].end);
      if (b[k].end > range.end) break;  // this b range also covers the start of the next a range
      ++k;
    }
    if (cursor < range.end) out.push_back(Interval{cursor, range.end});
    j = k;
  }
  return out;
}

IntervalSet unite_all(std::vector<IntervalSet> sets) {
  if (sets.empty()) return {};
  while (sets.size() > 1) {
    std::vector<IntervalSet> next;
    next.reserve((sets.size() + 1) / 2);
    for (std::size_t i = 0; i + 1 < sets.size(); i += 2) next.push_back(unite(sets[i], sets[i + 1]));
    if (sets.size() % 2 == 1) next.push_back(std::move(sets.back()));
    sets = std::move(next);
  }
  return std::move(sets.front());
}

IntervalSet clip(const IntervalSet& set, Interval window) {
  IntervalSet out;
  if (window.end <= window.start) return out;
  auto it = std::upper_bound(set.begin(), set.end(), window.start,
                             [](std::int64_t t, const Interval& i) { return t < i.end; });
  for (; it != set.end() && it->start < window.end; ++it) {
    out.push_back(Interval{std::max(it->start, window.start), std::min(it->end, window.end)});
  }
  return out;
}

std::int64_t total_length(const IntervalSet& set) {
  std::int64_t n = 0;
  for (const Interval& i : set) n += i.length();
  return n;
}

std::int64_t intersection_length(const IntervalSet& a, const IntervalSet& b) {
  std::int64_t n = 0;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const std::int64_t start = std::max(a[i].start, b[j].start);
    const std::int64_t end = std::min(a[i].end, b[j].end);
    if (start < end) n += end - start;
    if (a[i].end < b[j].end) ++i; else ++j;
  }
  return n;
}

std::uint32_t communication_mask() {
  std::uint32_t m = 0;
  for (int c = 0; c < kCategoryCount; ++c) {
    if (is_communication(static_cast<Category>(c))) m |= category_bit(static_cast<Category>(c));
  }
  return m;
}

std::uint32_t computation_mask() {
  std::uint32_t m = 0;
  for (int c = 0; c < kCategoryCount; ++c) {
    if (is_computation(static_cast<Category>(c))) m |= category_bit(static_cast<Category>(c));
  }
  return m;
}

}  // namespace scmoe::prof::analysis
