// The HTML report of a `scmoe run`: what the headless quick start hands a new user instead of a window.
#pragma once

#include <string>
#include <vector>

#include "scmoe/engine/config.h"
#include "scmoe/engine/runner.h"

namespace scmoe::cli {

struct IterationPoint {
  engine::Arch arch = engine::Arch::ScMoE;
  double time_ms = 0.0;
};

// Writes the report atomically; returns "" or the error.
std::string write_run_report(const std::string& path, const engine::EngineConfig& config,
                             const engine::RunSummary& summary, const std::vector<IterationPoint>& iterations,
                             const prof::Trace& last_iteration);

}  // namespace scmoe::cli
