#include "scmoe/ui/live_run_model.h"

#include <algorithm>
#include <cstdio>

#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/ui/time_format.h"

namespace scmoe::ui {

namespace {

double quantile_of_sorted(const std::vector<double>& v, double q) {
  const double pos = q * double(v.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return quantile_of_sorted(v, 0.5);
}

std::string fixed(double v, int decimals, const char* suffix = "") {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%s", decimals, v, suffix);
  return buf;
}

}  // namespace

SpeedupStats speedup_stats(const std::vector<double>& arch_ms, const std::vector<double>& top2_ms) {
  SpeedupStats s;
  const std::size_t n = std::min(arch_ms.size(), top2_ms.size());
  if (n == 0) return s;
  std::vector<double> ratios;
  for (std::size_t i = 0; i < n; ++i) {
    if (arch_ms[i] > 0) ratios.push_back(top2_ms[i] / arch_ms[i]);
  }
  if (ratios.empty()) return s;
  std::sort(ratios.begin(), ratios.end());
  const double arch_median = median(arch_ms);
  s.median_x = arch_median > 0 ? median(top2_ms) / arch_median : 0.0;
  s.low_x = quantile_of_sorted(ratios, 0.25);
  s.high_x = quantile_of_sorted(ratios, 0.75);
  s.pairs = static_cast<int>(ratios.size());
  return s;
}

void LiveRunModel::reset(const engine::EngineConfig& config) { *this = LiveRunModel(); config_ = config; }

void LiveRunModel::add(std::shared_ptr<const engine::IterationResult> result) {
  // In A/B mode the engine alternates the chosen arch and top-2; when the chosen arch is top-2 itself
  // there is no baseline series.
  const bool baseline = config_.ab_against_top2 && result->arch == engine::Arch::Top2 && config_.arch != engine::Arch::Top2;
  if (baseline) {
    top2_ms_.push_back(result->time_ms);
    latest_top2_ = result;
    speedup_history_.push_back(speedup());
  } else {
    arch_ms_.push_back(result->time_ms);
    latest_arch_ = result;
    tokens_dropped_ += result->tokens_dropped;
    for (const engine::ShortcutSimilarity& s : result->similarity) {
      cosine_sum_ += s.cosine;
      ++cosine_count_;
    }
  }
}

void LiveRunModel::finish(const engine::RunSummary& summary) {
  finished_ = true;
  summary_ = summary;
}

std::vector<std::pair<std::string, std::string>> overlap_rows(const prof::Trace& trace) {
  prof::analysis::OverlapOptions options;
  options.per_iteration = false;
  const prof::analysis::OverlapReport report = prof::analysis::analyze_overlap(trace, options);
  std::vector<std::pair<std::string, std::string>> rows;
  if (report.whole_trace.empty()) return rows;
  const prof::analysis::OverlapRow& all = report.whole_trace.back();  // kAllRanks when > 1 rank
  rows.emplace_back("overlap (comm hidden by compute)", fixed(all.total.overlap_percent(), 1, " %"));
  rows.emplace_back("communication", format_duration(double(all.total.comm_ns)));
  rows.emplace_back("exposed communication", format_duration(double(all.total.exposed_ns)));
  rows.emplace_back("dispatch: overlapped / total",
                    format_duration(double(all.dispatch.overlapped_ns)) + " / " + format_duration(double(all.dispatch.comm_ns)) +
                        " (" + fixed(all.dispatch.overlap_percent(), 1, " %") + ")");
  rows.emplace_back("combine: overlapped / total",
                    format_duration(double(all.combine.overlapped_ns)) + " / " + format_duration(double(all.combine.comm_ns)) +
                        " (" + fixed(all.combine.overlap_percent(), 1, " %") + ")");
  for (const prof::analysis::OverlapRow& r : report.whole_trace) {
    if (r.rank == prof::analysis::kAllRanks || report.whole_trace.size() > 9) continue;
    rows.emplace_back("rank " + std::to_string(r.rank) + " overlap", fixed(r.total.overlap_percent(), 1, " %"));
  }
  return rows;
}

std::vector<std::pair<std::string, std::string>> LiveRunModel::summaryRows() const {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("arch", std::string(engine::to_string(config_.arch)));
  if (!arch_ms_.empty()) rows.emplace_back("iteration time (median)", fixed(median(arch_ms_), 2, " ms"));
  if (!top2_ms_.empty()) {
    rows.emplace_back("top-2 iteration time (median)", fixed(median(top2_ms_), 2, " ms"));
    const SpeedupStats s = speedup();
    rows.emplace_back("speedup over top-2", fixed(s.median_x, 2, " x") + " (IQR " + fixed(s.low_x, 2) + ".." +
                                                fixed(s.high_x, 2, " x") + ")");
    rows.emplace_back("time saved vs top-2", fixed(s.median_x > 0 ? 100.0 * (1.0 - 1.0 / s.median_x) : 0.0, 1, " % time"));
  }
  if (latest_arch_) {
    for (auto& row : overlap_rows(latest_arch_->trace)) rows.push_back(std::move(row));
  }
  rows.emplace_back("tokens dropped", std::to_string(tokens_dropped_));
  if (hasCosine()) rows.emplace_back("shortcut cosine similarity (mean)", fixed(meanCosine(), 4));
  if (finished_ && summary_.chosen_slot > 0) rows.emplace_back("expert slot K used", std::to_string(summary_.chosen_slot));
  // The engine's own cost-model prediction (from the warm-up op times) against what was measured.
  if (finished_ && summary_.predicted_ms > 0 && !arch_ms_.empty()) {
    const double measured = median(arch_ms_);
    rows.emplace_back("cost-model prediction", fixed(summary_.predicted_ms, 2, " ms") + " (error " +
                                                   fixed(100.0 * (summary_.predicted_ms - measured) / measured, 1, " %") + ")");
  }
  return rows;
}

}  // namespace scmoe::ui
