// One run from a validated config: weights, warm-up (operator timing for the cost model: each op alone,
// then the chosen plan for its overheads), the adaptive choice of K, the measured iterations (with the
// top-2 twin in A/B mode; each predicted beforehand from the iterations before it, and re-planned by the
// adaptive schedule when those iterations' op times move) and the summary statistics.
#pragma once

#include "parallel/abort_signal.h"
#include "scmoe/engine/runner.h"

namespace scmoe::engine {

// Never throws: ATen errors become RunSummary::error, a triggered `abort` RunSummary::cancelled.
RunSummary run_session(const EngineConfig& config, const RunCallbacks& callbacks, AbortSignal& abort);

}  // namespace scmoe::engine
