#include "scmoe/profiler/analysis/breakdown.h"

#include <algorithm>
#include <cmath>

namespace scmoe::prof::analysis {

double quantile(std::vector<std::int64_t>& values, double q) {
  const double position = q * double(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(position));
  std::nth_element(values.begin(), values.begin() + std::ptrdiff_t(lo), values.end());
  const double lo_value = double(values[lo]);
  const double fraction = position - double(lo);
  if (fraction == 0.0 || lo + 1 >= values.size()) return lo_value;
  // After nth_element everything right of lo is >= values[lo]; the next order statistic is their minimum.
  const double hi_value = double(*std::min_element(values.begin() + std::ptrdiff_t(lo) + 1, values.end()));
  return lo_value + fraction * (hi_value - lo_value);
}

std::vector<OpStats> breakdown(const Trace& trace, const BreakdownOptions& options) {
  const bool by_name = options.group_by == GroupBy::Name;
  const std::size_t key_count = by_name ? trace.strings.size() : std::size_t(kCategoryCount);
  std::vector<std::vector<std::int64_t>> durations(key_count);
  std::vector<Category> first_category(key_count, Category::Other);

  for (std::int32_t rank : ranks_of(trace)) {
    if (options.rank && *options.rank != rank) continue;
    for (std::uint32_t ti : selected_tracks(trace, rank, options.tracks)) {
      for (const Span& s : trace.tracks[ti].spans) {
        if (options.iteration && s.iteration != *options.iteration) continue;
        const std::size_t key = by_name ? s.name : static_cast<std::size_t>(s.category);
        if (durations[key].empty()) first_category[key] = s.category;
        durations[key].push_back(s.duration_ns());
      }
    }
  }

  std::vector<OpStats> out;
  for (std::size_t key = 0; key < key_count; ++key) {
    std::vector<std::int64_t>& d = durations[key];
    if (d.empty()) continue;
    OpStats op;
    op.key = by_name ? std::string(trace.strings.view(static_cast<std::uint32_t>(key)))
                     : std::string(category_name(static_cast<Category>(key)));
    op.category = first_category[key];
    op.count = static_cast<std::int64_t>(d.size());
    const auto [min_it, max_it] = std::minmax_element(d.begin(), d.end());
    op.min_ns = *min_it;
    op.max_ns = *max_it;
    for (std::int64_t v : d) op.total_ns += v;
    op.median_ns = quantile(d, 0.5);
    op.p90_ns = quantile(d, 0.9);
    out.push_back(std::move(op));
    std::vector<std::int64_t>().swap(d);  // free as we go: 10M durations are 80 MB
  }
  std::sort(out.begin(), out.end(), [](const OpStats& a, const OpStats& b) {
    return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : a.key < b.key;
  });
  return out;
}

}  // namespace scmoe::prof::analysis
