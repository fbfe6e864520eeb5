#include "run_session.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "model/weights.h"
#include "schedule/forward_executor.h"
#include "schedule/unit_ops.h"

namespace scmoe::engine {

namespace cost = prof::cost;

namespace {

// Linear-interpolated quantile of unsorted values.
double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double pos = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

IterationResult to_result(int iteration, Arch arch, ForwardResult&& forward) {
  IterationResult r;
  r.iteration = iteration;
  r.arch = arch;
  r.time_ms = forward.wall_ms;
  r.tokens_dropped = forward.tokens_dropped;
  r.aux_loss = forward.aux_loss;
  r.similarity = std::move(forward.similarity);
  r.trace = std::move(forward.trace);
  return r;
}

}  // namespace

RunSummary run_session(const EngineConfig& config, const RunCallbacks& callbacks, AbortSignal& abort) {
  RunSummary summary;
  std::vector<double> arch_ms, top2_ms;
  try {
    // The ranks are the parallelism: one intra-op thread per rank keeps the cores uncontended and the
    // results independent of the schedule (bitwise).
    at::set_num_threads(1);
    const ModelWeights weights = make_weights(config);
    ForwardExecutor executor(config, weights, abort);
    const bool overlap = config.schedule != Schedule::Sequential;
    const cost::UnitShape shape{to_cost_arch(config.arch), config.shortcut_position, !config.moe_every_block,
                                config.pipeline_chunks};
    cost::UnitShape top2_shape = shape;
    top2_shape.arch = cost::Arch::Top2;
    const bool shortcut = cost::is_shortcut(shape.arch);
    int slot = shortcut ? config.expert_slot : 1;
    const cost::Plan top2_plan = cost::build_plan(top2_shape, 1, overlap);

    // Warm-up: every operator in order on one lane, so each is timed alone (no overlap skews it).
    const cost::Plan warmup_plan = cost::build_plan(shape, slot, false);
    std::vector<prof::Trace> warmup_traces;
    for (int i = 0; i < config.warmup; ++i) {
      const int iteration = -1 - i;  // warm-up inputs differ from the measured ones
      const auto inputs = make_rank_inputs(config, iteration);
      warmup_traces.push_back(executor.run(config.arch, warmup_plan, iteration, inputs).trace);
      if (config.ab_against_top2) executor.run(Arch::Top2, top2_plan, iteration, inputs);
    }
    const int units = unit_count(config);
    if (!warmup_traces.empty()) {
      summary.op_times = cost::measured_op_times(warmup_traces);
      if (shortcut) {
        summary.slot_table = cost::slot_table(summary.op_times, shape);
        if (config.schedule == Schedule::Adaptive) slot = cost::best_slot(summary.slot_table);
      }
    }
    const cost::Plan plan = cost::build_plan(shape, slot, overlap);
    summary.chosen_slot = slot;
    if (!warmup_traces.empty()) {
      summary.predicted_ms = units * cost::simulate_ms(plan, summary.op_times, shape.chunks);
      summary.predicted_top2_ms =
          units * cost::simulate_ms(top2_plan, cost::times_for_arch(summary.op_times, shape.arch, cost::Arch::Top2),
                                    shape.chunks);
      summary.predicted_trace = cost::predicted_timeline(plan, summary.op_times, shape.chunks, units, config.link.enabled);
    }

    for (int i = 0; i < config.iterations; ++i) {
      abort.throw_if_triggered();
      const auto inputs = make_rank_inputs(config, i);
      IterationResult result = to_result(i, config.arch, executor.run(config.arch, plan, i, inputs));
      arch_ms.push_back(result.time_ms);
      if (callbacks.on_iteration) callbacks.on_iteration(result);
      if (config.ab_against_top2) {
        IterationResult top2 = to_result(i, Arch::Top2, executor.run(Arch::Top2, top2_plan, i, inputs));
        top2_ms.push_back(top2.time_ms);
        if (callbacks.on_iteration) callbacks.on_iteration(top2);
      }
      summary.iterations_done = i + 1;
      if (callbacks.on_progress) callbacks.on_progress(i + 1, config.iterations);
    }
  } catch (const Cancelled&) {
    summary.cancelled = true;
  } catch (const c10::Error& e) {
    summary.error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    summary.error = e.what();
  }
  summary.median_ms = quantile(arch_ms, 0.5);
  const std::size_t pairs = std::min(arch_ms.size(), top2_ms.size());
  if (pairs > 0) {
    top2_ms.resize(pairs);
    std::vector<double> speedups;
    for (std::size_t i = 0; i < pairs; ++i) speedups.push_back(top2_ms[i] / arch_ms[i]);
    summary.top2_median_ms = quantile(top2_ms, 0.5);
    summary.speedup_x = quantile(speedups, 0.5);
    summary.speedup_low_x = quantile(speedups, 0.25);
    summary.speedup_high_x = quantile(speedups, 0.75);
    summary.time_saved_pct = 100.0 * (1.0 - summary.median_ms / summary.top2_median_ms);
  }
  return summary;
}

}  // namespace scmoe::engine
