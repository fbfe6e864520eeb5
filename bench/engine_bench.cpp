// Engine benchmark (not a test): iteration time of top2, top1, shared and scmoe pos 1/2/3 (adaptive) on
// CPU ranks with an emulated link calibrated so that communication is ~60% (PCIe regime) and ~15%
// (NVLink regime) of top-2's MoE time; speedups vs top-2 measured A/B in the same run, the overlap
// achieved (analysis::analyze_overlap over the measured iterations) and the cost model's prediction next
// to the measured time (from the warm-up op times the adaptive scheduler used, and from the op times of
// the measured iterations). Prints a Markdown table; results and command in bench/README.md.
//
//   scmoe_engine_bench [iterations] [ranks]   (ranks 1: one rank playing a rank of a group of 2)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "scmoe/engine/runner.h"
#include "scmoe/profiler/analysis/overlap.h"

namespace eng = scmoe::engine;
namespace cost = scmoe::prof::cost;

namespace {

eng::EngineConfig base_config(int iterations, int ranks) {
  eng::EngineConfig c;  // the demo shapes
  c.pairs = 2;
  c.num_experts = 4;
  c.ep_size = ranks;    // default 2: one rank per core of the 2-core CI machine
  c.dropless = true;    // the same tokens reach the experts in every arch
  c.warmup = 3;
  c.iterations = iterations;
  return c;
}

struct Measured {
  eng::RunSummary summary;
  double overlap_pct = 0.0;        // mean over measured iterations of the chosen arch
  double repredicted_ms = 0.0;     // cost model fed with the op times of the measured iterations
  double iteration_error_pct = 0.0;  // median over iterations of (wall - model on that iteration's ops) / model
  double rank_error_pct = 0.0;       // the same with each rank's own op times and collectives in step
};

cost::Arch cost_arch(eng::Arch a) {
  switch (a) {
    case eng::Arch::Top2: return cost::Arch::Top2;
    case eng::Arch::Top1: return cost::Arch::Top1;
    case eng::Arch::Shared: return cost::Arch::Shared;
    case eng::Arch::ScMoE: return cost::Arch::ScMoE;
    case eng::Arch::ScMoE2: return cost::Arch::ScMoE2;
  }
  return cost::Arch::Top2;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

Measured run(const eng::EngineConfig& config) {
  Measured m;
  std::vector<scmoe::prof::Trace> traces;
  std::vector<double> wall_ms;
  eng::Runner runner;
  const auto errors = runner.start(config, {[&](const eng::IterationResult& r) {
                                              if (r.arch != config.arch) return;
                                              const auto report = scmoe::prof::analysis::analyze_overlap(
                                                  r.trace, {scmoe::prof::analysis::TrackSelection::Auto, false});
                                              m.overlap_pct += report.whole_trace.back().total.overlap_percent();
                                              traces.push_back(r.trace);
                                              wall_ms.push_back(r.time_ms);
                                            },
                                            nullptr, nullptr});
  if (!errors.empty()) {
    std::fprintf(stderr, "invalid config: %s: %s\n", errors[0].field.c_str(), errors[0].message.c_str());
    std::exit(2);
  }
  m.summary = runner.wait();
  if (!m.summary.error.empty()) {
    std::fprintf(stderr, "run failed: %s\n", m.summary.error.c_str());
    std::exit(1);
  }
  if (!traces.empty()) {
    m.overlap_pct /= static_cast<double>(traces.size());
    // The same model on the op times of the measured iterations themselves: separates the schedule
    // model's error from the drift between warm-up and measurement on a shared machine.
    const cost::UnitShape shape{cost_arch(config.arch), config.shortcut_position, !config.moe_every_block,
                                config.pipeline_chunks};
    const int slot = cost::is_shortcut(shape.arch) ? m.summary.chosen_slot : 1;
    const cost::Plan plan = cost::build_plan(shape, slot, true);
    m.repredicted_ms = config.pairs * cost::simulate_ms(plan, cost::measured_op_times(traces), shape.chunks);
    // Per iteration: the model on that iteration's own op times against its wall time. On a shared
    // machine op times drift from one iteration to the next; this error is the schedule model's alone.
    std::vector<double> errors, rank_errors;
    for (std::size_t i = 0; i < traces.size(); ++i) {
      const double predicted = config.pairs * cost::simulate_ms(plan, cost::measured_op_times({traces[i]}), shape.chunks);
      errors.push_back(100.0 * (wall_ms[i] - predicted) / predicted);
      const double per_rank = cost::simulate_ranks_ms(plan, cost::measured_op_times_per_rank(traces[i]), shape.chunks,
                                                      config.pairs);
      rank_errors.push_back(100.0 * (wall_ms[i] - per_rank) / per_rank);
    }
    m.iteration_error_pct = median(errors);
    m.rank_error_pct = median(rank_errors);
  }
  return m;
}

// Emulated link such that top-2's dispatch + combine take `comm_share` of its MoE time
// (gate + encode + dispatch + experts + combine + decode), from top-2's operator times measured without a link.
eng::LinkModel calibrate_link(const eng::EngineConfig& base, double comm_share) {
  eng::EngineConfig probe = base;
  probe.arch = eng::Arch::Top2;
  probe.schedule = eng::Schedule::Sequential;
  probe.iterations = 1;
  probe.link = eng::LinkModel{};
  const cost::OpTimes t = run(probe).summary.op_times;
  const double moe_compute_ms = t[cost::Op::Gate] + t[cost::Op::Encode] + t[cost::Op::Expert] + t[cost::Op::Decode];
  const double per_exchange_ms = comm_share / (1.0 - comm_share) * moe_compute_ms / 2.0;
  // Rows one rank sends to the other ranks in a top-2 exchange: 2 copies of its tokens, (n-1)/n remote.
  // One rank plays one rank of a group of 2 (no stragglers: isolates the schedule from rank imbalance).
  const int group = base.ep_size == 1 ? 2 : base.ep_size;
  const double bytes = cost::exchange_bytes(base.tokens_per_rank, 2, base.hidden, 4, group);
  eng::LinkModel link;
  link.enabled = true;
  link.emulated_ranks = base.ep_size == 1 ? group : 0;
  link.latency_us = 0.1 * per_exchange_ms * 1e3;  // latency is 10% of the exchange, bandwidth the rest
  link.bandwidth_gbps = bytes / (0.9 * per_exchange_ms * 1e-3) / 1e9;
  return link;
}

struct Row {
  const char* label;
  eng::Arch arch;
  int position;
};

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 10;
  const int ranks = argc > 2 ? std::atoi(argv[2]) : 2;
  if (iterations < 1 || ranks < 1 || 4 % ranks != 0) {
    std::fprintf(stderr, "usage: scmoe_engine_bench [iterations >= 1] [ranks: 1, 2 or 4]\n");
    return 2;
  }
  const Row rows[] = {{"top2", eng::Arch::Top2, 2},           {"top1", eng::Arch::Top1, 2},
                      {"shared", eng::Arch::Shared, 2},       {"scmoe pos1", eng::Arch::ScMoE, 1},
                      {"scmoe pos2", eng::Arch::ScMoE, 2},    {"scmoe pos3", eng::Arch::ScMoE, 3}};
  for (const double share : {0.60, 0.15}) {
    const eng::EngineConfig base = base_config(iterations, ranks);
    const eng::LinkModel link = calibrate_link(base, share);
    std::printf("\n### %d rank(s), comm = %.0f%% of top-2 MoE time (emulated link %.4f GB/s, %.0f us)\n\n", ranks,
                share * 100, link.bandwidth_gbps, link.latency_us);
    std::printf("| arch | schedule | K | measured ms | predicted ms (warm-up ops) | error | predicted ms (measured ops) | error | per-iteration model error (median) | same, per-rank model | speedup vs top2 (x, p25-p75) | time saved | overlap |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const Row& row : rows) {
      eng::EngineConfig c = base;
      c.arch = row.arch;
      c.shortcut_position = row.position;
      c.schedule = eng::Schedule::Adaptive;
      c.link = link;
      c.ab_against_top2 = row.arch != eng::Arch::Top2;
      const Measured m = run(c);
      const eng::RunSummary& s = m.summary;
      const double error = 100.0 * (s.median_ms - s.predicted_ms) / s.predicted_ms;
      const double reerror = 100.0 * (s.median_ms - m.repredicted_ms) / m.repredicted_ms;
      std::printf("| %s | %s | %s | %.2f | %.2f | %+.1f%% | %.2f | %+.1f%% | %+.1f%% | %+.1f%% |", row.label,
                  row.arch == eng::Arch::ScMoE ? "adaptive" : "serial (no window)",
                  row.arch == eng::Arch::ScMoE ? std::to_string(s.chosen_slot).c_str() : "-", s.median_ms,
                  s.predicted_ms, error, m.repredicted_ms, reerror, m.iteration_error_pct, m.rank_error_pct);
      if (c.ab_against_top2) {
        std::printf(" %.3f (%.3f-%.3f) | %.1f%% |", s.speedup_x, s.speedup_low_x, s.speedup_high_x, s.time_saved_pct);
      } else {
        std::printf(" 1 | 0%% |");
      }
      std::printf(" %.0f%% |\n", m.overlap_pct);
      std::fflush(stdout);
    }
  }
  return 0;
}
