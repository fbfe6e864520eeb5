// Engine benchmark (not a test): iteration time of top2, top1, shared and scmoe pos 1/2/3 (adaptive) on
// CPU ranks with an emulated link calibrated so that communication is ~60% (PCIe regime) and ~15%
// (NVLink regime) of top-2's MoE time; speedups vs top-2 measured A/B in the same run, the overlap
// achieved (analysis::analyze_overlap over the measured iterations) and the cost model's prediction next
// to the measured time: "warm-up" is RunSummary::predicted_ms (made before the measured iterations from
// warm-up iterations of the chosen plan), "online" the median of each iteration's prediction from the
// iterations before it (RunSummary::online_predicted_ms), "same-iteration" the model on each iteration's
// own op times and overheads (a diagnostic of the schedule model alone). Prints a Markdown table.
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
  double overlap_pct = 0.0;          // mean over measured iterations of the chosen arch
  double same_iteration_error_pct = 0.0;  // median over iterations of (wall - model on that iteration) / model
  std::string slots;                 // K per measured iteration when the adaptive schedule re-planned
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

// SCMOE_BENCH_DUMP=FILE appends every span of every measured iteration as CSV (for offline analysis of
// hand-offs and gaps): arch,pos,iteration,wall_ms,rank,lane,name,layer,chunk,start_ns,end_ns,predicted_ms,K.
void dump_trace(const eng::EngineConfig& config, const eng::IterationResult& r) {
  const char* path = std::getenv("SCMOE_BENCH_DUMP");
  if (!path) return;
  FILE* f = std::fopen(path, "a");
  if (!f) return;
  for (const auto& track : r.trace.tracks) {
    for (const auto& s : track.spans) {
      std::fprintf(f, "%d,%d,%d,%.4f,%d,%d,%s,%d,%d,%lld,%lld,%.4f,%d\n", static_cast<int>(r.arch), config.shortcut_position,
                   r.iteration, r.time_ms, track.info.rank, static_cast<int>(track.info.kind),
                   std::string(r.trace.name_of(s)).c_str(), s.layer, s.op_instance, static_cast<long long>(s.start_ns),
                   static_cast<long long>(s.end_ns), r.predicted_ms, r.slot);
    }
  }
  std::fclose(f);
}

Measured run(const eng::EngineConfig& config) {
  Measured m;
  std::vector<scmoe::prof::Trace> traces;
  std::vector<double> wall_ms;
  std::vector<int> slots;
  eng::Runner runner;
  const auto errors = runner.start(config, {[&](const eng::IterationResult& r) {
                                              if (r.arch != config.arch) return;
                                              const auto report = scmoe::prof::analysis::analyze_overlap(
                                                  r.trace, {scmoe::prof::analysis::TrackSelection::Auto, false});
                                              m.overlap_pct += report.whole_trace.back().total.overlap_percent();
                                              dump_trace(config, r);
                                              traces.push_back(r.trace);
                                              wall_ms.push_back(r.time_ms);
                                              slots.push_back(std::max(1, r.slot));
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
    // Diagnostic: the model on each iteration's own per-rank op times and overheads against that
    // iteration's wall time, i.e. the schedule model's error without any drift of the machine's load.
    const cost::UnitShape shape{cost_arch(config.arch), config.shortcut_position, !config.moe_every_block,
                                config.pipeline_chunks};
    std::vector<double> errors;
    for (std::size_t i = 0; i < traces.size(); ++i) {
      const cost::Plan plan = cost::build_plan(shape, slots[i], config.schedule != eng::Schedule::Sequential);
      const cost::Overheads o = cost::measured_overheads({traces[i]}, {wall_ms[i]}, plan, shape);
      const double predicted =
          cost::predict_iteration_ms(plan, {cost::measured_op_times_per_rank(traces[i])}, shape.chunks, config.pairs, o);
      errors.push_back(100.0 * (wall_ms[i] - predicted) / predicted);
    }
    m.same_iteration_error_pct = median(errors);
    if (!m.summary.slot_switches.empty()) {
      for (int k : slots) m.slots += std::to_string(k);
    }
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
    std::printf("| arch | schedule | K | measured ms | predicted ms (warm-up) | error | predicted ms (online, median) | error | same-iteration model error (median) | speedup vs top2 (x, p25-p75) | time saved | overlap | hand-off / collective / gap / frame ms |\n");
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
      const auto error = [&](double predicted) { return 100.0 * (s.median_ms - predicted) / predicted; };
      std::string k = row.arch == eng::Arch::ScMoE ? std::to_string(s.chosen_slot) : "-";
      if (!m.slots.empty()) k += " (re-planned: " + m.slots + ")";
      std::printf("| %s | %s | %s | %.2f | %.2f | %+.1f%% | %.2f | %+.1f%% | %+.1f%% |", row.label,
                  row.arch == eng::Arch::ScMoE ? "adaptive" : "serial (no window)", k.c_str(), s.median_ms,
                  s.predicted_ms, error(s.predicted_ms), s.online_predicted_ms, error(s.online_predicted_ms),
                  m.same_iteration_error_pct);
      if (c.ab_against_top2) {
        std::printf(" %.3f (%.3f-%.3f) | %.1f%% |", s.speedup_x, s.speedup_low_x, s.speedup_high_x, s.time_saved_pct);
      } else {
        std::printf(" 1 | 0%% |");
      }
      const cost::Overheads& o = s.overheads;
      std::printf(" %.0f%% | %.3f / %.3f / %.3f / %.3f |\n", m.overlap_pct, o.handoff_ms, o.collective_ms, o.step_gap_ms,
                  o.frame_ms);
      std::fflush(stdout);
    }
  }
  return 0;
}
