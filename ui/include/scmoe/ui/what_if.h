// Qt-free what-if simulator of the studio: operator times measured in a run (per Block-MLP + Block-MoE
// unit) are re-scaled to another link / EP size / arch and fed to the cost model (prof::cost), the same
// code the adaptive scheduler uses, giving the per-K table, K*, the predicted iteration time, the
// predicted top-2 time (for the speedup) and a predicted timeline.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scmoe/engine/config.h"
#include "scmoe/engine/runner.h"
#include "scmoe/profiler/cost_model.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::ui {

// What a run measured, in the terms of the cost model.
struct MeasuredOps {
  prof::cost::OpTimes times;          // ms per op of one unit
  prof::cost::Arch arch = prof::cost::Arch::ScMoE;
  engine::EngineConfig config;        // the configuration that was measured
};

prof::cost::Arch to_cost_arch(engine::Arch arch);

// The op times a finished run measured in its warm-up (each op timed alone, the adaptive scheduler's
// own input). Empty when the run had no warm-up.
std::optional<MeasuredOps> measured_from_run(const engine::RunSummary& summary, const engine::EngineConfig& config);
// Op times from engine iteration traces (prof::cost::measured_op_times: per op, total time / instances,
// median over the traces). Empty (with `error`) when they hold no engine op spans (imported traces).
std::optional<MeasuredOps> measure_ops(const std::vector<prof::Trace>& iterations, const engine::EngineConfig& config,
                                       engine::Arch arch, std::string* error);

// Dispatch/combine time moved to another link and EP size: the part above the latency scales with bytes
// per rank (tokens sent off-rank: (ep-1)/ep of them) over bandwidth. Without an emulated link on both
// sides the measured comm time is kept (a real link's bandwidth is not known).
double rescale_comm_ms(double measured_ms, const engine::EngineConfig& from, const engine::EngineConfig& to);

struct WhatIfResult {
  std::vector<prof::cost::SlotRow> table;  // per K (one row for archs without a shortcut)
  int chosen_slot = 1;                     // K* when adaptive, else the requested K
  double unit_ms = 0.0;
  double iteration_ms = 0.0;               // unit time x pairs
  double top2_iteration_ms = 0.0;          // the baseline predicted from the same measurements
  double speedup_x() const { return iteration_ms > 0 ? top2_iteration_ms / iteration_ms : 0.0; }
  double time_saved_percent() const {
    return top2_iteration_ms > 0 ? 100.0 * (1.0 - iteration_ms / top2_iteration_ms) : 0.0;
  }
  prof::Trace timeline;                    // predicted spans of two units
};

WhatIfResult predict(const MeasuredOps& measured, const engine::EngineConfig& target);

}  // namespace scmoe::ui
