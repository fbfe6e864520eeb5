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

// The last iterations of the chosen arch's plan: what the cost model is fed with for the prediction of the
// next iteration and for the adaptive re-plan.
class RecentIterations {
 public:
  explicit RecentIterations(std::size_t size) : size_(std::max<std::size_t>(1, size)) {}

  void add(const prof::Trace& trace, double wall_ms) {
    traces_.push_back(trace);
    wall_ms_.push_back(wall_ms);
    if (traces_.size() > size_) {
      traces_.erase(traces_.begin());
      wall_ms_.erase(wall_ms_.begin());
    }
  }
  bool empty() const { return traces_.empty(); }
  const std::vector<prof::Trace>& traces() const { return traces_; }

  // The cost model's iteration time for `plan`: each recent iteration's per-rank op times through the
  // schedule with the overheads measured in the same iterations (which ran `ran`: the gaps are measured
  // against the plan that produced them).
  double predict_ms(const cost::Plan& plan, const cost::Plan& ran, const cost::UnitShape& shape, int units,
                    cost::Overheads* overheads = nullptr) const {
    return predict_other_ms(plan, ran, shape, shape.arch, {}, units, overheads);
  }

  // The same for another arch's plan: every rank's measured op times converted by times_for_arch.
  double predict_other_ms(const cost::Plan& plan, const cost::Plan& ran, const cost::UnitShape& shape,
                          cost::Arch target, const cost::RoutedWork& work, int units,
                          cost::Overheads* overheads = nullptr) const {
    std::vector<std::vector<cost::OpTimes>> samples;
    for (const prof::Trace& t : traces_) {
      samples.push_back(cost::measured_op_times_per_rank(t));
      for (cost::OpTimes& rank : samples.back()) rank = cost::times_for_arch(rank, shape.arch, target, work);
    }
    const cost::Overheads o = cost::measured_overheads(traces_, wall_ms_, ran, shape);
    if (overheads) *overheads = o;
    return cost::predict_iteration_ms(plan, samples, shape.chunks, units, o);
  }

  // How much one unit's time varies between the recent iterations: the median absolute deviation of
  // wall time / units. A re-plan must gain more than this, or the gain could not be told from noise.
  double unit_spread_ms(int units) const {
    std::vector<double> unit_ms;
    for (double ms : wall_ms_) unit_ms.push_back(ms / units);
    const double mid = quantile(unit_ms, 0.5);
    for (double& ms : unit_ms) ms = std::abs(ms - mid);
    return quantile(unit_ms, 0.5);
  }

 private:
  std::size_t size_;
  std::vector<prof::Trace> traces_;
  std::vector<double> wall_ms_;
};

}  // namespace

RunSummary run_session(const EngineConfig& config, const RunCallbacks& callbacks, AbortSignal& abort) {
  RunSummary summary;
  std::vector<double> arch_ms, top2_ms, online_ms;
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
    const bool adaptive = shortcut && config.schedule == Schedule::Adaptive;
    int slot = shortcut ? config.expert_slot : 1;
    const cost::Plan top2_plan = cost::build_plan(top2_shape, 1, overlap);
    const int units = unit_count(config);
    // Warm-up inputs differ from the measured ones (negative iteration numbers).
    int warmup_iteration = -1;
    const auto warmup_pass = [&](const cost::Plan& p) {
      const auto inputs = make_rank_inputs(config, warmup_iteration);
      ForwardResult r = executor.run(config.arch, p, warmup_iteration, inputs);
      if (config.ab_against_top2) executor.run(Arch::Top2, top2_plan, warmup_iteration, inputs);
      --warmup_iteration;
      return r;
    };

    // Warm-up 1: every operator in order on one lane, so each is timed alone (no overlap skews it): the op
    // times of the slot table and of K*.
    const cost::Plan warmup_plan = cost::build_plan(shape, slot, false);
    RecentIterations recent(static_cast<std::size_t>(std::max(3, config.warmup)));
    std::vector<prof::Trace> warmup_traces;
    for (int i = 0; i < config.warmup; ++i) {
      ForwardResult r = warmup_pass(warmup_plan);
      if (!overlap) recent.add(r.trace, r.wall_ms);  // the measured plan is this one
      warmup_traces.push_back(std::move(r.trace));
    }
    if (!warmup_traces.empty()) {
      summary.op_times = cost::measured_op_times(warmup_traces);
      if (shortcut) {
        summary.slot_table = cost::slot_table(summary.op_times, shape);
        if (adaptive) slot = cost::best_slot(summary.slot_table);
      }
    }
    cost::Plan plan = cost::build_plan(shape, slot, overlap);
    summary.chosen_slot = slot;
    // Warm-up 2: the chosen plan itself, as the measured iterations will run it (A/B twin included), for
    // what the ops take under it (two lanes sharing the cores) and its overheads (hand-offs between the
    // lanes, collective starts, gaps). A sequential schedule ran its plan in warm-up 1 already.
    if (overlap) {
      for (int i = 0; i < config.warmup; ++i) {
        const ForwardResult r = warmup_pass(plan);
        recent.add(r.trace, r.wall_ms);
      }
    }
    if (!warmup_traces.empty()) {
      summary.predicted_ms = recent.predict_ms(plan, plan, shape, units, &summary.overheads);
      // Top-2 from the same iterations: each rank's op times converted to two routed copies, through
      // top-2's plan with the overheads measured here.
      summary.predicted_top2_ms =
          recent.predict_other_ms(top2_plan, plan, shape, cost::Arch::Top2, routed_work(config), units);
      summary.predicted_trace = cost::predicted_timeline(plan, summary.op_times, shape.chunks, units, config.link.enabled);
    }

    cost::Plan ran = plan;  // the plan the recent iterations ran (their gaps belong to it)
    for (int i = 0; i < config.iterations; ++i) {
      abort.throw_if_triggered();
      const auto inputs = make_rank_inputs(config, i);
      const double predicted = recent.empty() ? 0.0 : recent.predict_ms(plan, ran, shape, units);
      IterationResult result = to_result(i, config.arch, executor.run(config.arch, plan, i, inputs));
      result.slot = slot;
      result.predicted_ms = predicted;
      arch_ms.push_back(result.time_ms);
      if (predicted > 0.0) online_ms.push_back(predicted);
      recent.add(result.trace, result.time_ms);
      ran = plan;
      if (callbacks.on_iteration) callbacks.on_iteration(result);
      if (config.ab_against_top2) {
        IterationResult top2 = to_result(i, Arch::Top2, executor.run(Arch::Top2, top2_plan, i, inputs));
        top2_ms.push_back(top2.time_ms);
        if (callbacks.on_iteration) callbacks.on_iteration(top2);
      }
      summary.iterations_done = i + 1;
      if (callbacks.on_progress) callbacks.on_progress(i + 1, config.iterations);
      if (adaptive && i + 1 < config.iterations) {
        // Re-plan: the routed shapes move from one iteration to the next (dropless routing sends each
        // expert a different number of tokens; the link time follows the bytes), so K* is re-evaluated on
        // the recent iterations' op times and switched when that hides measurably more communication.
        const cost::OpTimes recent_ops = cost::measured_op_times(recent.traces());
        const int next = cost::replan_slot(recent_ops, shape, slot, recent.unit_spread_ms(units));
        if (next != slot) {
          const auto table = cost::slot_table(recent_ops, shape);
          summary.slot_switches.push_back({i + 1, slot, next, table[static_cast<std::size_t>(slot - 1)].exposed_ms,
                                           table[static_cast<std::size_t>(next - 1)].exposed_ms});
          slot = next;
          plan = cost::build_plan(shape, slot, overlap);
        }
      }
    }
  } catch (const Cancelled&) {
    summary.cancelled = true;
  } catch (const c10::Error& e) {
    summary.error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    summary.error = e.what();
  }
  summary.online_predicted_ms = quantile(online_ms, 0.5);
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
