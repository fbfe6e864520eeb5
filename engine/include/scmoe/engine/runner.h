// The engine's public face: start a run, receive each iteration's results, cancel. No LibTorch and no
// Qt types (pimpl), so ui/ and app/ compile without LibTorch headers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "scmoe/engine/config.h"
#include "scmoe/profiler/cost_model.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::engine {

struct ShortcutSimilarity {
  int layer = 0;
  double cosine = 0.0;   // mean cosine similarity between the shortcut tensor S and Hmh_{l+1}
  double l2 = 0.0;       // mean L2 distance between them
};

struct IterationResult {
  int iteration = 0;
  Arch arch = Arch::ScMoE;          // in A/B mode alternates between the chosen arch and top-2
  double time_ms = 0.0;             // wall time of the iteration (max over ranks)
  std::int64_t tokens_dropped = 0;
  double aux_loss = 0.0;
  std::vector<ShortcutSimilarity> similarity;
  prof::Trace trace;                // every operator of this iteration, per rank and lane
  int slot = 0;                     // K this iteration ran with (shortcut archs; adaptive may re-plan it)
  // Cost model's prediction of time_ms made before the iteration ran, from the op times and overheads of
  // the iterations before it (the re-plan window); 0 for the top-2 twin in A/B mode.
  double predicted_ms = 0.0;
};

// The adaptive schedule switched K during the measured iterations (the recent op times moved).
struct SlotSwitch {
  int iteration = 0;                // the first iteration that ran with to_slot
  int from_slot = 0;
  int to_slot = 0;
  double exposed_from_ms = 0.0;     // X(K) of both slots for the recent op times, one unit
  double exposed_to_ms = 0.0;
};

struct RunSummary {
  bool cancelled = false;
  std::string error;                // empty on success
  double median_ms = 0.0;           // of the chosen arch
  double top2_median_ms = 0.0;      // A/B mode only
  double speedup_x = 0.0;           // top2 / arch (A/B mode)
  double speedup_low_x = 0.0;       // spread of the speedup (A/B mode): 25th..75th percentile
  double speedup_high_x = 0.0;
  int chosen_slot = 0;              // K used (adaptive: K* after warm-up; re-plans in slot_switches)
  // Added for the adaptive scheduler and the what-if view:
  int iterations_done = 0;          // measured iterations of the chosen arch
  double time_saved_pct = 0.0;      // A/B: 100 * (1 - median_ms / top2_median_ms), the paper's "% time"
  prof::cost::OpTimes op_times;     // medians over the warm-up iterations, one unit (empty: no warm-up)
  std::vector<prof::cost::SlotRow> slot_table;  // per-K table for one unit (shortcut archs)
  // Cost model: the iteration time with the slot chosen after warm-up, predicted before the measured
  // iterations from the per-rank op times and the overheads (hand-off, collective start, step gap, frame)
  // measured in warm-up iterations that ran that plan (prof::cost::predict_iteration_ms).
  double predicted_ms = 0.0;
  // Median over the measured iterations of each one's IterationResult::predicted_ms: the same model fed
  // with the iterations just before (it follows a machine whose load drifts during the run).
  double online_predicted_ms = 0.0;
  prof::cost::Overheads overheads;  // measured in the warm-up iterations of the plan
  std::vector<SlotSwitch> slot_switches;  // adaptive re-plans during the measured iterations
  double predicted_top2_ms = 0.0;   // cost model: top-2 from the same warm-up iterations (times_for_arch)
  prof::Trace predicted_trace;      // cost model timeline of one iteration (spans flagged predicted)
};

struct RunCallbacks {
  std::function<void(const IterationResult&)> on_iteration;  // called from the run thread
  std::function<void(int done, int total)> on_progress;
  std::function<void(const RunSummary&)> on_finished;
};

class Runner {
 public:
  Runner();
  ~Runner();  // cancels and joins a run in progress
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Validates the config; returns its errors (and starts nothing) or starts the run on a worker thread.
  std::vector<ConfigError> start(const EngineConfig& config, RunCallbacks callbacks);
  void cancel();          // returns at once; the run stops within a second
  RunSummary wait();      // blocks until the run has finished
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scmoe::engine
