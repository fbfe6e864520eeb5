// Interval algebra on time ranges: unions of spans, intersection and difference of unions.
//
// An IntervalSet is a sorted list of disjoint, non-touching, non-empty half-open ranges [start, end).
// Building one from a track is O(n) because Trace::finalize() sorts each track's spans by start; every
// set operation is a linear merge of two sorted lists, O(n + m). Zero-length spans add no time and
// vanish; touching or overlapping spans (nested CPU ops, overlapping kernels of one stream) merge.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::analysis {

struct Interval {
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::int64_t length() const { return end - start; }
  bool operator==(const Interval&) const = default;
};

using IntervalSet = std::vector<Interval>;

// Adds [start, end) to a set being built in ascending start order, merging with the last range when they
// touch or overlap; empty ranges are dropped. The building block of every union (inline: hot loop).
inline void append_in_start_order(IntervalSet& set, std::int64_t start, std::int64_t end) {
  if (end <= start) return;
  if (!set.empty() && start <= set.back().end) {
    if (end > set.back().end) set.back().end = end;
  } else {
    set.push_back(Interval{start, end});
  }
}

// Union of the spans of one track that satisfy `keep`; spans must be sorted by start (finalized trace).
IntervalSet union_of_sorted_spans(std::span<const Span> spans, const std::function<bool(const Span&)>& keep);
// Union of the spans with category in `categories` (bit i set = Category i), same precondition. A plain
// category mask keeps the hot loop free of an indirect call per span.
IntervalSet union_of_sorted_spans(std::span<const Span> spans, std::uint32_t category_mask);

// Normalises arbitrary (unsorted, overlapping) intervals into a set. O(n log n).
IntervalSet make_interval_set(std::vector<Interval> intervals);

IntervalSet unite(const IntervalSet& a, const IntervalSet& b);
IntervalSet intersect(const IntervalSet& a, const IntervalSet& b);
IntervalSet subtract(const IntervalSet& a, const IntervalSet& b);  // a minus b
// Union of many sets by pairwise merging in a balanced tree: O(N log k) for k sets of N ranges in all.
IntervalSet unite_all(std::vector<IntervalSet> sets);
// The part of `set` inside [window.start, window.end). O(log n + output).
IntervalSet clip(const IntervalSet& set, Interval window);

std::int64_t total_length(const IntervalSet& set);
// Length of a ∩ b without materialising it.
std::int64_t intersection_length(const IntervalSet& a, const IntervalSet& b);

constexpr std::uint32_t category_bit(Category c) { return 1u << static_cast<unsigned>(c); }
std::uint32_t communication_mask();  // dispatch | combine | other_comm
std::uint32_t computation_mask();    // every category is_computation() accepts

}  // namespace scmoe::prof::analysis
