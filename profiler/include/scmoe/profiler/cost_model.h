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

// Simulates a plan: each step starts when its lane is free and its dependencies have ended; chunked ops
// take their op time divided by the number of chunks. Returns the unit time in milliseconds.
double simulate_ms(const Plan& plan, const OpTimes& times, int chunks);

// Converts op times measured for one arch into the times another arch would take: the routed ops
// (encode, dispatch, expert, combine, decode) scale with the routed copies, the shared expert costs one
// copy of the routed expert work when it was not measured. This gives the predicted top-2 time from the
// same measurements for the what-if speedup.
OpTimes times_for_arch(const OpTimes& measured, Arch measured_arch, Arch target);

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
double simulate_ranks_ms(const Plan& plan, const std::vector<OpTimes>& per_rank, int chunks, int units);

// The predicted timeline of `units` consecutive units (rank 0, a compute and a comm track), every span
// flagged kSpanPredicted (and kSpanEmulated for communication when `emulated_link`).
Trace predicted_timeline(const Plan& plan, const OpTimes& times, int chunks, int units, bool emulated_link);

}  // namespace scmoe::prof::cost
