// The ScMoE cost model (scmoe-method.md §4): from measured operator times of one Block-MLP + Block-MoE
// unit, the schedule of that unit on the compute and comm lanes, the per-slot table
// (T_pre, T_post, |T_pre - T_disp| + |T_post - T_comb|, exposed communication X(K)), the best slot K*,
// the predicted unit time and a predicted timeline as a Trace.
//
// The engine executes exactly the plans built here (build_plan), so the prediction and the run share one
// definition of the schedule; the UI's what-if simulator calls the same functions. Pure C++: no Qt, no
// LibTorch.
#pragma once

#include <array>
#include <string_view>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::cost {

enum class Arch : std::uint8_t { Top2, Top1, Shared, ScMoE, ScMoE2 };

// The operators of one unit. AttnL/MlpL belong to the Block-MLP (layer l), the rest to the Block-MoE
// (layer l+1). Output = the residual sum (with the combine gate / post-sum norm).
enum class Op : std::uint8_t {
  AttnL, MlpL, AttnL1, SharedExpert, Gate, Encode, Dispatch, Expert, Combine, Decode, Output,
};
inline constexpr int kOpCount = 11;

enum class Lane : std::uint8_t { Compute, Comm };

std::string_view op_name(Op op);
Category op_category(Op op);
int routed_copies(Arch arch);     // top-k of the router: 2 for top2/scmoe2, else 1
bool has_shared_expert(Arch arch);
bool is_shortcut(Arch arch);      // scmoe, scmoe2: the routed experts read the shortcut tensor

// Milliseconds per operator for one unit, summed over pipeline chunks.
struct OpTimes {
  std::array<double, kOpCount> ms{};
  double& operator[](Op op) { return ms[static_cast<std::size_t>(op)]; }
  double operator[](Op op) const { return ms[static_cast<std::size_t>(op)]; }
};

struct UnitShape {
  Arch arch = Arch::ScMoE;
  int position = 2;            // shortcut position 1..3 (ignored by non-shortcut archs)
  bool has_mlp_block = true;   // false when MoE is in every block (no Block-MLP, position 1)
  int chunks = 1;              // > 1: Tutel-style pipelined dispatch / expert / combine
};

// Number of slots the routed expert computation can take: window ops + 1 (pos 1: 3, 2: 4, 3: 5; a
// non-shortcut arch has no window and one slot).
int slot_count(const UnitShape& shape);
// The compute ops that can hide dispatch/combine, in compute-lane order (empty for non-shortcut archs).
std::vector<Op> window_ops(const UnitShape& shape);

struct PlanStep {
  Op op = Op::Output;
  Lane lane = Lane::Compute;
  int chunk = 0;               // pipeline chunk of Dispatch/Expert/Combine, 0 otherwise
  std::vector<int> deps;       // indices of earlier steps whose results this step reads
};
// Steps in issue order: per lane, the steps of that lane run in the order they appear here, and every
// dependency comes earlier in the vector.
struct Plan {
  std::vector<PlanStep> steps;
};

// overlap = false: everything in order on the compute lane (the paper's sequential row).
// slot: 1..slot_count(shape); the expert computation sits after slot-1 window ops.
Plan build_plan(const UnitShape& shape, int slot, bool overlap);

struct SlotRow {
  int slot = 0;
  double t_pre_ms = 0.0;       // window compute before E: hides dispatch
  double t_post_ms = 0.0;      // window compute after E: hides combine
  double objective_ms = 0.0;   // |T_pre - T_disp| + |T_post - T_comb|
  double exposed_ms = 0.0;     // X(K) = max(0, T_disp - T_pre) + max(0, T_comb - T_post)
  double predicted_ms = 0.0;   // simulated unit time with the overlap plan at this slot
};
std::vector<SlotRow> slot_table(const OpTimes& times, const UnitShape& shape);
// argmin of the objective; ties (equal up to rounding, 1e-9 relative) go to the smaller exposed
// communication, then the smaller slot.
int best_slot(const std::vector<SlotRow>& table);

// Costs of running a plan on real lanes that no operator span contains, measured in engine traces
// (measured_overheads). Each is a delay of the lane threads in milliseconds, not a fitted factor; all
// zero gives the ideal schedule of scmoe-method.md §4.
struct Overheads {
  // A compute step that waits for the comm lane (expert after dispatch, decode after combine) starts this
  // long after its producer ended: the event is set and the waiting lane thread wakes up and gets a core.
  double handoff_ms = 0.0;
  // A collective (dispatch, combine) begins this long after the last rank was ready for it (its input
  // produced and its lane free): the comm lane thread wakes on its event and every rank leaves the
  // barrier.
  double collective_ms = 0.0;
  // Between two consecutive steps of one lane when the second waits for no other lane: taking the next
  // task off the queue and recording the span, plus any time the thread lost its core in between.
  double step_gap_ms = 0.0;
  // Once per iteration: wall time outside the span extent (enqueueing the plan before the first span
  // starts, waking the caller after the last one ends).
  double frame_ms = 0.0;
};

// Simulates a plan: each step starts when its lane is free and its dependencies have ended, plus the
// overheads (a collective on the last-ready rank, which with one rank is itself); chunked ops take their
// op time divided by the number of chunks. Returns the unit time in milliseconds (frame_ms excluded).
double simulate_ms(const Plan& plan, const OpTimes& times, int chunks, const Overheads& overheads = {});

// What the routed ops of a measured run are made of, so each part can be scaled by what it depends on.
struct RoutedWork {
  // The emulated link's latency per All-to-All (0 without a link): charged once per exchange whatever
  // its size (link_transfer_ms), so it does not scale with the routed copies.
  double link_latency_ms = 0.0;
  int local_experts = 0;    // expert MLP calls per rank per unit (experts / EP size; 0: unknown)
};

// Converts op times measured for one arch into the times another arch would take, with k = the ratio of
// routed copies (top-k):
// - dispatch/combine: latency + bytes / bandwidth (the link model), so only the part above the link
//   latency scales with k;
// - expert: each local expert is one MLP call on its rows; a call costs a fixed part f (dispatching the
//   GEMMs, index_select / index_copy set-up) plus c per row. The shared expert is the same MLP once on
//   all T tokens (SE = f + c T) and the routed experts are `local_experts` calls on k T rows together
//   (E = n f + c k T); when the measured arch has a shared expert and RoutedWork names n (!= k), these
//   two measured equations give c T = (n SE - E) / (n - k), and the target's expert time is
//   E + c T (k' - k). Otherwise (no shared expert measured) the expert time scales with k;
// - encode/decode (permutation, weighted sum) scale with k;
// - the shared expert costs f + c T (one routed copy of all tokens) when it was not measured.
// This gives the predicted top-2 time from the same measurements for the what-if speedup.
OpTimes times_for_arch(const OpTimes& measured, Arch measured_arch, Arch target, const RoutedWork& work = {});

// The link model shared by the engine's emulated link and the what-if simulator:
// time = latency + bytes / bandwidth (bandwidth in GB/s per direction).
double link_transfer_ms(double bytes, double bandwidth_gbps, double latency_us);
// Bytes one rank sends to the other ranks in one dispatch (or combine) of `tokens` tokens with `copies`
// routed copies each, when experts are spread evenly over `ranks` ranks: (ranks-1)/ranks of the rows.
double exchange_bytes(double tokens, int copies, int hidden, int bytes_per_value, int ranks);

// Operator times of one unit measured in traces of engine iterations (spans named by op_name, not flagged
// predicted): per trace, an op's total duration / its number of (rank, layer) instances (chunks of one
// instance add up); then the median over the traces.
OpTimes measured_op_times(const std::vector<Trace>& iterations);
// The same for each rank of one iteration (index = rank).
std::vector<OpTimes> measured_op_times_per_rank(const Trace& iteration);

// All ranks running `units` consecutive units of the same plan, each with its own op times: a
// communication step (a collective) starts on every rank when the last rank is ready for it, so a slow
// rank delays the others. Returns the time of the last rank to finish.
double simulate_ranks_ms(const Plan& plan, const std::vector<OpTimes>& per_rank, int chunks, int units,
                         const Overheads& overheads = {});

// The overheads of a plan measured in traces of iterations that ran it (wall_ms: each one's wall time,
// for frame_ms): per kind, the mean over every rank, unit and iteration (delays that add up along an
// iteration: the expected one is what it pays) of
// - handoff: begin of a compute step with a comm-lane dependency - that dependency's end, when the
//   compute lane was idle by then;
// - collective: begin of a dispatch/combine - the latest over ranks of max(its inputs' end, the end of
//   the step before it on its lane);
// - step gap: begin of any other step - the end of the step before it on its lane (also a compute step
//   whose comm input was there before its lane was free);
// - frame: wall time - (last span end - first span begin), the median over iterations.
// Spans are matched to plan steps by op name, chunk and unit (layer / 2 with a Block-MLP, else layer).
Overheads measured_overheads(const std::vector<Trace>& iterations, const std::vector<double>& wall_ms,
                             const Plan& plan, const UnitShape& shape);

// The predicted wall time of one iteration of `units` units: the median over measured iterations
// (`samples`, each one's per-rank op times) of simulate_ranks_ms with those op times and the overheads,
// plus frame_ms. Every collective waits for the slowest rank and which rank is slow changes from one
// iteration to the next on a shared machine, so the model runs once per measured iteration: simulated on
// per-rank median times, no rank would ever be slow and the barrier waits would vanish.
double predict_iteration_ms(const Plan& plan, const std::vector<std::vector<OpTimes>>& samples, int chunks,
                            int units, const Overheads& overheads);

// The re-plan rule of the adaptive schedule: from op times measured over recent iterations, the slot the
// objective picks (best_slot of slot_table); it replaces `current` only when it exposes less
// communication (X(K)) than `current` by more than `resolution_ms`, the spread of the measurements a gain
// must beat to be real rather than noise.
int replan_slot(const OpTimes& recent, const UnitShape& shape, int current, double resolution_ms);

// The predicted timeline of `units` consecutive units (rank 0, a compute and a comm track), every span
// flagged kSpanPredicted (and kSpanEmulated for communication when `emulated_link`).
Trace predicted_timeline(const Plan& plan, const OpTimes& times, int chunks, int units, bool emulated_link);

}  // namespace scmoe::prof::cost
