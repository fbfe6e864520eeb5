#include "scmoe/ui/what_if.h"

#include <algorithm>

namespace scmoe::ui {

using prof::cost::Op;

prof::cost::Arch to_cost_arch(engine::Arch arch) {
  switch (arch) {
    case engine::Arch::Top2: return prof::cost::Arch::Top2;
    case engine::Arch::Top1: return prof::cost::Arch::Top1;
    case engine::Arch::Shared: return prof::cost::Arch::Shared;
    case engine::Arch::ScMoE: return prof::cost::Arch::ScMoE;
    case engine::Arch::ScMoE2: return prof::cost::Arch::ScMoE2;
  }
  return prof::cost::Arch::ScMoE;
}

namespace {

bool any_time(const prof::cost::OpTimes& t) {
  for (double ms : t.ms) {
    if (ms > 0) return true;
  }
  return false;
}

}  // namespace

std::optional<MeasuredOps> measured_from_run(const engine::RunSummary& summary, const engine::EngineConfig& config) {
  if (!any_time(summary.op_times)) return std::nullopt;
  return MeasuredOps{summary.op_times, to_cost_arch(config.arch), config};
}

std::optional<MeasuredOps> measure_ops(const std::vector<prof::Trace>& iterations, const engine::EngineConfig& config,
                                       engine::Arch arch, std::string* error) {
  MeasuredOps m{prof::cost::measured_op_times(iterations), to_cost_arch(arch), config};
  m.config.arch = arch;
  if (!any_time(m.times) || m.times[Op::AttnL1] <= 0) {
    if (error) *error = "no engine operator spans (attn_l+1, ...) in the trace: run a workload to predict from";
    return std::nullopt;
  }
  return m;
}

double rescale_comm_ms(double measured_ms, const engine::EngineConfig& from, const engine::EngineConfig& to) {
  if (!from.link.enabled || !to.link.enabled || from.link.bandwidth_gbps <= 0 || to.link.bandwidth_gbps <= 0) {
    return measured_ms;
  }
  const double off_rank_from = from.ep_size > 1 ? double(from.ep_size - 1) / from.ep_size : 0.0;
  const double off_rank_to = to.ep_size > 1 ? double(to.ep_size - 1) / to.ep_size : 0.0;
  const double latency_from = from.link.latency_us / 1000.0;
  const double latency_to = to.link.latency_us / 1000.0;
  const double transfer = std::max(0.0, measured_ms - latency_from);
  const double bytes_ratio = off_rank_from > 0 ? off_rank_to / off_rank_from : 1.0;
  const double bandwidth_ratio = from.link.bandwidth_gbps / to.link.bandwidth_gbps;
  return transfer * bytes_ratio * bandwidth_ratio + (off_rank_to > 0 ? latency_to : 0.0);
}

namespace {

prof::cost::OpTimes times_for(const MeasuredOps& measured, const engine::EngineConfig& target, prof::cost::Arch arch) {
  // What the measured routed ops were made of: the measured run's link latency (not scaled with the
  // routed copies) and its expert calls per rank (to split the expert time into per-call and per-row parts).
  prof::cost::RoutedWork work;
  if (measured.config.link.enabled) work.link_latency_ms = measured.config.link.latency_us / 1000.0;
  if (measured.config.ep_size > 0) work.local_experts = measured.config.num_experts / measured.config.ep_size;
  prof::cost::OpTimes t = prof::cost::times_for_arch(measured.times, measured.arch, arch, work);
  t[Op::Dispatch] = rescale_comm_ms(t[Op::Dispatch], measured.config, target);
  t[Op::Combine] = rescale_comm_ms(t[Op::Combine], measured.config, target);
  return t;
}

prof::cost::UnitShape shape_for(const engine::EngineConfig& c, prof::cost::Arch arch) {
  prof::cost::UnitShape shape;
  shape.arch = arch;
  shape.has_mlp_block = !c.moe_every_block;
  shape.position = c.moe_every_block ? 1 : c.shortcut_position;
  shape.chunks = std::max(1, c.pipeline_chunks);
  return shape;
}

}  // namespace

WhatIfResult predict(const MeasuredOps& measured, const engine::EngineConfig& target) {
  WhatIfResult r;
  const prof::cost::Arch arch = to_cost_arch(target.arch);
  const prof::cost::OpTimes times = times_for(measured, target, arch);
  const prof::cost::UnitShape shape = shape_for(target, arch);
  const bool overlap = target.schedule != engine::Schedule::Sequential;
  r.table = prof::cost::slot_table(times, shape);
  const int slots = static_cast<int>(r.table.size());
  r.chosen_slot = target.schedule == engine::Schedule::Adaptive ? prof::cost::best_slot(r.table)
                                                                : std::clamp(target.expert_slot, 1, slots);
  const prof::cost::Plan plan = prof::cost::build_plan(shape, r.chosen_slot, overlap);
  r.unit_ms = prof::cost::simulate_ms(plan, times, shape.chunks);
  const int pairs = std::max(1, target.pairs);
  r.iteration_ms = r.unit_ms * pairs;
  const prof::cost::UnitShape top2 = shape_for(target, prof::cost::Arch::Top2);
  r.top2_iteration_ms = prof::cost::simulate_ms(prof::cost::build_plan(top2, 1, /*overlap=*/false),
                                                times_for(measured, target, prof::cost::Arch::Top2), 1) * pairs;
  r.timeline = prof::cost::predicted_timeline(plan, times, shape.chunks, 2, target.link.enabled);
  return r;
}

}  // namespace scmoe::ui
