// Qt-free record of a live run: per-iteration times of the chosen arch and of top-2 (A/B mode), the
// running speedup with its spread, the latest trace of each arch and the diagnostics (tokens dropped,
// shortcut cosine similarity). Charts, summary panel and reports read from here.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scmoe/engine/runner.h"

namespace scmoe::ui {

struct SpeedupStats {
  double median_x = 0.0;  // median(top2) / median(arch)
  double low_x = 0.0;     // 25th percentile of the per-pair ratios top2[i] / arch[i]
  double high_x = 0.0;    // 75th percentile
  int pairs = 0;
};
// Quantiles interpolate linearly between order statistics. No pairs: all zero.
SpeedupStats speedup_stats(const std::vector<double>& arch_ms, const std::vector<double>& top2_ms);

class LiveRunModel {
 public:
  void reset(const engine::EngineConfig& config);
  void add(std::shared_ptr<const engine::IterationResult> result);
  void finish(const engine::RunSummary& summary);

  const engine::EngineConfig& config() const { return config_; }
  const std::vector<double>& archTimes() const { return arch_ms_; }
  const std::vector<double>& top2Times() const { return top2_ms_; }
  // Running speedup after each top-2 iteration (for the chart).
  const std::vector<SpeedupStats>& speedupHistory() const { return speedup_history_; }
  SpeedupStats speedup() const { return speedup_stats(arch_ms_, top2_ms_); }
  const std::shared_ptr<const engine::IterationResult>& latestArch() const { return latest_arch_; }
  const std::shared_ptr<const engine::IterationResult>& latestTop2() const { return latest_top2_; }
  std::int64_t tokensDropped() const { return tokens_dropped_; }
  double meanCosine() const { return cosine_count_ ? cosine_sum_ / cosine_count_ : 0.0; }
  bool hasCosine() const { return cosine_count_ > 0; }

  // "key: value" lines of the summary panel and the report: overlap %, exposed comm, dispatch / combine
  // split of the latest iteration of the chosen arch, tokens dropped, cosine, speedup (x and % time).
  std::vector<std::pair<std::string, std::string>> summaryRows() const;

 private:
  engine::EngineConfig config_;
  std::vector<double> arch_ms_, top2_ms_;
  std::vector<SpeedupStats> speedup_history_;
  std::shared_ptr<const engine::IterationResult> latest_arch_, latest_top2_;
  std::int64_t tokens_dropped_ = 0;
  double cosine_sum_ = 0.0;
  int cosine_count_ = 0;
  bool finished_ = false;
  engine::RunSummary summary_;
};

// Overlap lines of any trace (imported ones too): whole-trace overlap %, comm, exposed comm and the
// dispatch/combine split, summed over ranks (analysis::analyze_overlap).
std::vector<std::pair<std::string, std::string>> overlap_rows(const prof::Trace& trace);

}  // namespace scmoe::ui
