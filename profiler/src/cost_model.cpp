#include "scmoe/profiler/cost_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <stdexcept>
#include <string>
#include <utility>

namespace scmoe::prof::cost {

namespace {

constexpr std::array<std::string_view, kOpCount> kOpNames = {
    "attn_l", "mlp_l", "attn_l+1", "shared_expert", "gate", "encode",
    "dispatch", "expert", "combine", "decode", "output",
};

bool is_chunked(Op op) { return op == Op::Dispatch || op == Op::Expert || op == Op::Combine; }

// The data each op reads, as ops of the same unit (the unit input has no op).
std::vector<Op> data_inputs(Op op, const UnitShape& shape) {
  const bool shortcut = is_shortcut(shape.arch);
  switch (op) {
    case Op::AttnL: return {};
    case Op::MlpL: return {Op::AttnL};
    case Op::AttnL1: return shape.has_mlp_block ? std::vector<Op>{Op::MlpL} : std::vector<Op>{};
    case Op::SharedExpert: return {Op::AttnL1};
    case Op::Gate:
      if (!shortcut) return {Op::AttnL1};
      if (!shape.has_mlp_block || shape.position == 3) return {};
      return {shape.position == 2 ? Op::AttnL : Op::MlpL};
    case Op::Encode: return {Op::Gate};
    case Op::Dispatch: return {Op::Encode};
    case Op::Expert: return {Op::Dispatch};
    case Op::Combine: return {Op::Expert};
    case Op::Decode: return {Op::Combine};
    case Op::Output:
      if (has_shared_expert(shape.arch)) return {Op::Decode, Op::AttnL1, Op::SharedExpert};
      return {Op::Decode, Op::AttnL1};
  }
  return {};
}

class PlanBuilder {
 public:
  PlanBuilder(const UnitShape& shape, bool overlap) : shape_(shape), overlap_(overlap) {}

  void add(Op op, int chunk = 0) {
    PlanStep step;
    step.op = op;
    step.chunk = chunk;
    step.lane = overlap_ && (op == Op::Dispatch || op == Op::Combine) ? Lane::Comm : Lane::Compute;
    for (Op input : data_inputs(op, shape_)) {
      if (is_chunked(input) && is_chunked(op)) {
        step.deps.push_back(index_.at({input, chunk}));  // chunk i feeds chunk i
      } else if (is_chunked(input)) {
        for (int c = 0; c < shape_.chunks; ++c) step.deps.push_back(index_.at({input, c}));
      } else {
        step.deps.push_back(index_.at({input, 0}));
      }
    }
    index_[{op, chunk}] = static_cast<int>(plan_.steps.size());
    plan_.steps.push_back(std::move(step));
  }

  // E in C chunks, with the comm lane order D1, D2, C1, D3, C2, ..., C_C so that the dispatch of chunk
  // i+1 overlaps the expert computation of chunk i (Tutel-style).
  void add_routed_experts() {
    const int chunks = shape_.chunks;
    add(Op::Dispatch, 0);
    for (int c = 0; c < chunks; ++c) {
      add(Op::Expert, c);
      if (c + 1 < chunks) add(Op::Dispatch, c + 1);
      add(Op::Combine, c);
    }
  }

  Plan take() { return std::move(plan_); }

 private:
  UnitShape shape_;
  bool overlap_;
  Plan plan_;
  std::map<std::pair<Op, int>, int> index_;
};

// Compute ops that precede the gate (the shortcut tensor, or for baselines the whole backbone).
std::vector<Op> ops_before_gate(const UnitShape& shape) {
  std::vector<Op> ops;
  if (!is_shortcut(shape.arch)) {
    if (shape.has_mlp_block) ops = {Op::AttnL, Op::MlpL};
    ops.push_back(Op::AttnL1);
    if (has_shared_expert(shape.arch)) ops.push_back(Op::SharedExpert);
    return ops;
  }
  if (!shape.has_mlp_block) return ops;
  if (shape.position <= 2) ops.push_back(Op::AttnL);
  if (shape.position == 1) ops.push_back(Op::MlpL);
  return ops;
}

}  // namespace

std::string_view op_name(Op op) { return kOpNames[static_cast<std::size_t>(op)]; }

Category op_category(Op op) {
  switch (op) {
    case Op::AttnL:
    case Op::AttnL1: return Category::Attention;
    case Op::MlpL: return Category::Mlp;
    case Op::SharedExpert: return Category::SharedExpert;
    case Op::Gate: return Category::Gate;
    case Op::Encode: return Category::Encode;
    case Op::Dispatch: return Category::Dispatch;
    case Op::Expert: return Category::Expert;
    case Op::Combine: return Category::Combine;
    case Op::Decode: return Category::Decode;
    case Op::Output: return Category::Other;
  }
  return Category::Other;
}

int routed_copies(Arch arch) { return arch == Arch::Top2 || arch == Arch::ScMoE2 ? 2 : 1; }
bool has_shared_expert(Arch arch) {
  return arch == Arch::Shared || arch == Arch::ScMoE || arch == Arch::ScMoE2;
}
bool is_shortcut(Arch arch) { return arch == Arch::ScMoE || arch == Arch::ScMoE2; }

std::vector<Op> window_ops(const UnitShape& shape) {
  if (!is_shortcut(shape.arch)) return {};
  std::vector<Op> window;
  if (shape.has_mlp_block) {
    if (shape.position == 3) window.push_back(Op::AttnL);
    if (shape.position >= 2) window.push_back(Op::MlpL);
  }
  window.push_back(Op::AttnL1);
  window.push_back(Op::SharedExpert);
  return window;
}

int slot_count(const UnitShape& shape) { return static_cast<int>(window_ops(shape).size()) + 1; }

Plan build_plan(const UnitShape& shape, int slot, bool overlap) {
  if (shape.chunks < 1) throw std::invalid_argument("chunks must be >= 1, got " + std::to_string(shape.chunks));
  const std::vector<Op> window = window_ops(shape);
  if (slot < 1 || slot > static_cast<int>(window.size()) + 1) {
    throw std::invalid_argument("slot " + std::to_string(slot) + " outside 1.." +
                                std::to_string(window.size() + 1));
  }
  PlanBuilder builder(shape, overlap);
  for (Op op : ops_before_gate(shape)) builder.add(op);
  builder.add(Op::Gate);     // as early as possible: the gate only needs the shortcut tensor
  builder.add(Op::Encode);
  for (int i = 0; i <= static_cast<int>(window.size()); ++i) {
    if (i == slot - 1) builder.add_routed_experts();
    if (i < static_cast<int>(window.size())) builder.add(window[static_cast<std::size_t>(i)]);
  }
  builder.add(Op::Decode);   // as late as possible: right before the residual sum
  builder.add(Op::Output);
  return builder.take();
}

namespace {
struct StepTiming {
  double start = 0.0;
  double end = 0.0;
};

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : 0.5 * (v[mid - 1] + v[mid]);
}

// Every rank running `units` units of the plan: timing[rank][unit * steps + step]. A step is ready on a
// rank when its lane is free (plus the step gap after an earlier step of that lane) and its inputs have
// ended (plus the hand-off for an input from the other lane); a collective starts on every rank when
// the last rank is ready, plus the collective overhead.
std::vector<std::vector<StepTiming>> simulate_all(const Plan& plan, const std::vector<OpTimes>& per_rank, int chunks,
                                                  int units, const Overheads& o) {
  const std::size_t ranks = per_rank.size();
  const std::size_t steps = plan.steps.size();
  std::vector<std::vector<StepTiming>> timing(ranks, std::vector<StepTiming>(steps * static_cast<std::size_t>(units)));
  std::vector<std::array<double, 2>> lane_free(ranks, {0.0, 0.0});
  std::vector<std::array<bool, 2>> lane_used(ranks, {false, false});
  std::vector<double> ready(ranks);
  for (int u = 0; u < units; ++u) {
    const std::size_t base = static_cast<std::size_t>(u) * steps;
    for (std::size_t i = 0; i < steps; ++i) {
      const PlanStep& step = plan.steps[i];
      const auto lane = static_cast<std::size_t>(step.lane);
      const bool collective = is_communication(op_category(step.op));
      double last_ready = 0.0;
      for (std::size_t r = 0; r < ranks; ++r) {
        double lane_ready = lane_free[r][lane];
        double cross_ready = 0.0;
        bool cross = false;
        for (int d : step.deps) {
          const double end = timing[r][base + static_cast<std::size_t>(d)].end;
          if (plan.steps[static_cast<std::size_t>(d)].lane != step.lane) {
            cross = true;
            cross_ready = std::max(cross_ready, end);
          } else {
            lane_ready = std::max(lane_ready, end);
          }
        }
        if (collective) {
          ready[r] = std::max(lane_ready, cross_ready);
        } else {
          ready[r] = std::max(lane_ready + (lane_used[r][lane] ? o.step_gap_ms : 0.0),
                              cross ? cross_ready + o.handoff_ms : 0.0);
        }
        last_ready = std::max(last_ready, ready[r]);
      }
      for (std::size_t r = 0; r < ranks; ++r) {
        const double start = collective ? last_ready + o.collective_ms : ready[r];
        const double duration = is_chunked(step.op) ? per_rank[r][step.op] / chunks : per_rank[r][step.op];
        timing[r][base + i] = {start, start + duration};
        lane_free[r][lane] = start + duration;
        lane_used[r][lane] = true;
      }
    }
  }
  return timing;
}

std::vector<StepTiming> simulate_steps(const Plan& plan, const OpTimes& times, int chunks, const Overheads& o) {
  return simulate_all(plan, {times}, chunks, 1, o).front();
}
}  // namespace

double simulate_ms(const Plan& plan, const OpTimes& times, int chunks, const Overheads& overheads) {
  double end = 0.0;
  for (const StepTiming& t : simulate_steps(plan, times, chunks, overheads)) end = std::max(end, t.end);
  return end;
}

std::vector<SlotRow> slot_table(const OpTimes& times, const UnitShape& shape) {
  const std::vector<Op> window = window_ops(shape);
  double window_ms = 0.0;
  for (Op op : window) window_ms += times[op];
  std::vector<SlotRow> table;
  double before = 0.0;
  for (int k = 1; k <= static_cast<int>(window.size()) + 1; ++k) {
    if (k > 1) before += times[window[static_cast<std::size_t>(k - 2)]];
    SlotRow row;
    row.slot = k;
    row.t_pre_ms = before;
    row.t_post_ms = window_ms - before;
    row.objective_ms = std::abs(row.t_pre_ms - times[Op::Dispatch]) + std::abs(row.t_post_ms - times[Op::Combine]);
    row.exposed_ms = std::max(0.0, times[Op::Dispatch] - row.t_pre_ms) +
                     std::max(0.0, times[Op::Combine] - row.t_post_ms);
    row.predicted_ms = simulate_ms(build_plan(shape, k, /*overlap=*/true), times, shape.chunks);
    table.push_back(row);
  }
  return table;
}

int best_slot(const std::vector<SlotRow>& table) {
  if (table.empty()) throw std::invalid_argument("best_slot: empty slot table");
  // Objectives that differ only by rounding (when communication exceeds the window on both sides every
  // slot has the same objective, computed along different sums) count as ties.
  const auto same = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)}); };
  const SlotRow* best = &table.front();
  for (const SlotRow& row : table) {
    if (same(row.objective_ms, best->objective_ms)) {
      if (!same(row.exposed_ms, best->exposed_ms) && row.exposed_ms < best->exposed_ms) best = &row;
    } else if (row.objective_ms < best->objective_ms) {
      best = &row;
    }
  }
  return best->slot;
}

OpTimes times_for_arch(const OpTimes& measured, Arch measured_arch, Arch target, const RoutedWork& work) {
  OpTimes out = measured;
  const int k_from = routed_copies(measured_arch);
  const int k_to = routed_copies(target);
  const double scale = static_cast<double>(k_to) / k_from;
  for (Op op : {Op::Encode, Op::Decode}) out[op] = measured[op] * scale;
  // Link model: latency + bytes / bandwidth; the bytes are k copies of the tokens. The part of the
  // measured exchange below the latency (a tiny exchange) is all latency.
  for (Op op : {Op::Dispatch, Op::Combine}) {
    const double latency = std::min(measured[op], std::max(0.0, work.link_latency_ms));
    out[op] = latency + (measured[op] - latency) * scale;
  }
  // Expert MLP calls: E = n f + c k T, shared expert SE = f + c T (see the header). What changes with k is
  // the rows: E' = E + c T (k' - k).
  const int n = work.local_experts;
  const bool split = has_shared_expert(measured_arch) && n > 0 && n != k_from &&
                     measured[Op::SharedExpert] > 0.0;
  double per_copy = measured[Op::Expert] / k_from;  // c T: the rows of one copy of all tokens
  if (split) {
    // n SE - E = c T (n - k). Both parts are non-negative: c T <= SE (f >= 0 in SE) and c T <= E / k.
    per_copy = std::clamp((n * measured[Op::SharedExpert] - measured[Op::Expert]) / (n - k_from), 0.0,
                          std::min(measured[Op::SharedExpert], measured[Op::Expert] / k_from));
  }
  out[Op::Expert] = measured[Op::Expert] + per_copy * (k_to - k_from);
  if (!has_shared_expert(target)) {
    out[Op::SharedExpert] = 0.0;
  } else if (!has_shared_expert(measured_arch)) {
    // The shared expert is a dense MLP the size of one expert applied to every token: one routed copy.
    out[Op::SharedExpert] = measured[Op::Expert] / k_from;
  }
  return out;
}

double link_transfer_ms(double bytes, double bandwidth_gbps, double latency_us) {
  return latency_us * 1e-3 + bytes / (bandwidth_gbps * 1e9) * 1e3;
}

double exchange_bytes(double tokens, int copies, int hidden, int bytes_per_value, int ranks) {
  if (ranks < 1) throw std::invalid_argument("exchange_bytes: ranks must be >= 1, got " + std::to_string(ranks));
  return tokens * copies * hidden * bytes_per_value * static_cast<double>(ranks - 1) / ranks;
}

namespace {
// Per op: total duration of the op's spans on the tracks of `rank` (every rank when nullopt) divided by
// its number of (rank, layer) instances; nullopt for ops without spans.
std::array<std::optional<double>, kOpCount> per_unit_ms(const Trace& trace, std::optional<std::int32_t> rank) {
  std::array<double, kOpCount> total{};
  std::array<std::set<std::pair<std::int32_t, std::int32_t>>, kOpCount> instances;
  for (const Track& track : trace.tracks) {
    if (rank && track.info.rank != *rank) continue;
    for (const Span& span : track.spans) {
      if (span.has_flag(kSpanPredicted)) continue;
      const auto it = std::find(kOpNames.begin(), kOpNames.end(), trace.name_of(span));
      if (it == kOpNames.end()) continue;
      const auto op = static_cast<std::size_t>(it - kOpNames.begin());
      total[op] += static_cast<double>(span.duration_ns()) / 1e6;
      instances[op].insert({track.info.rank, span.layer});
    }
  }
  std::array<std::optional<double>, kOpCount> out;
  for (std::size_t op = 0; op < kOpCount; ++op) {
    if (!instances[op].empty()) out[op] = total[op] / static_cast<double>(instances[op].size());
  }
  return out;
}
}  // namespace

OpTimes measured_op_times(const std::vector<Trace>& iterations) {
  std::array<std::vector<double>, kOpCount> samples;
  for (const Trace& trace : iterations) {
    const auto ms = per_unit_ms(trace, std::nullopt);
    for (std::size_t op = 0; op < kOpCount; ++op) {
      if (ms[op]) samples[op].push_back(*ms[op]);
    }
  }
  OpTimes times;
  for (std::size_t op = 0; op < kOpCount; ++op) {
    std::vector<double>& v = samples[op];
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const std::size_t mid = v.size() / 2;
    times.ms[op] = v.size() % 2 == 1 ? v[mid] : 0.5 * (v[mid - 1] + v[mid]);
  }
  return times;
}

std::vector<OpTimes> measured_op_times_per_rank(const Trace& iteration) {
  std::int32_t ranks = 0;
  for (const Track& track : iteration.tracks) ranks = std::max(ranks, track.info.rank + 1);
  std::vector<OpTimes> out(static_cast<std::size_t>(ranks));
  for (std::int32_t r = 0; r < ranks; ++r) {
    const auto ms = per_unit_ms(iteration, r);
    for (std::size_t op = 0; op < kOpCount; ++op) out[static_cast<std::size_t>(r)].ms[op] = ms[op].value_or(0.0);
  }
  return out;
}

double simulate_ranks_ms(const Plan& plan, const std::vector<OpTimes>& per_rank, int chunks, int units,
                         const Overheads& overheads) {
  double makespan = 0.0;
  for (const auto& rank : simulate_all(plan, per_rank, chunks, units, overheads)) {
    for (const StepTiming& t : rank) makespan = std::max(makespan, t.end);
  }
  return makespan;
}

Overheads measured_overheads(const std::vector<Trace>& iterations, const std::vector<double>& wall_ms,
                             const Plan& plan, const UnitShape& shape) {
  std::map<std::pair<Op, int>, std::size_t> step_of;  // (op, chunk) -> plan step
  for (std::size_t i = 0; i < plan.steps.size(); ++i) step_of[{plan.steps[i].op, plan.steps[i].chunk}] = i;
  struct Seen {
    double start = 0.0, end = 0.0, prev_end = 0.0;
    bool has_prev = false;
  };
  std::vector<double> handoff, collective, gap, frame;
  for (std::size_t it = 0; it < iterations.size(); ++it) {
    const Trace& trace = iterations[it];
    std::map<std::tuple<std::int32_t, std::int32_t, std::size_t>, Seen> seen;  // (rank, unit, step)
    std::set<std::int32_t> ranks;
    std::int64_t first = 0, last = 0;
    bool any = false;
    for (const Track& track : trace.tracks) {
      std::vector<std::pair<const Span*, std::size_t>> ops;  // the plan's spans of this lane, by start
      for (const Span& span : track.spans) {
        if (span.has_flag(kSpanPredicted)) continue;
        const auto name = std::find(kOpNames.begin(), kOpNames.end(), trace.name_of(span));
        if (name == kOpNames.end()) continue;
        const auto step = step_of.find({static_cast<Op>(name - kOpNames.begin()), std::max(0, span.op_instance)});
        if (step == step_of.end()) continue;
        ops.emplace_back(&span, step->second);
      }
      std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.first->start_ns < b.first->start_ns; });
      for (std::size_t k = 0; k < ops.size(); ++k) {
        const Span& span = *ops[k].first;
        if (!any || span.start_ns < first) first = span.start_ns;
        if (!any || span.end_ns > last) last = span.end_ns;
        any = true;
        Seen s;
        s.start = static_cast<double>(span.start_ns) / 1e6;
        s.end = static_cast<double>(span.end_ns) / 1e6;
        s.has_prev = k > 0;
        if (s.has_prev) s.prev_end = static_cast<double>(ops[k - 1].first->end_ns) / 1e6;
        const std::int32_t unit = shape.has_mlp_block ? span.layer / 2 : span.layer;
        seen[{track.info.rank, unit, ops[k].second}] = s;
        ranks.insert(track.info.rank);
      }
    }
    if (!any) continue;
    if (it < wall_ms.size()) frame.push_back(wall_ms[it] - static_cast<double>(last - first) / 1e6);
    for (const auto& [key, s] : seen) {
      // Plain copies, not a structured binding: lambdas cannot capture bindings before C++20 in clang 14
      // (the fuzz build).
      const std::int32_t rank = std::get<0>(key);
      const std::int32_t unit = std::get<1>(key);
      const std::size_t index = std::get<2>(key);
      const PlanStep& step = plan.steps[index];
      const auto input_end = [&](std::int32_t r, bool cross_only, bool& found) {
        double end = 0.0;
        found = false;
        for (int d : step.deps) {
          if (cross_only && plan.steps[static_cast<std::size_t>(d)].lane == step.lane) continue;
          const auto it_dep = seen.find({r, unit, static_cast<std::size_t>(d)});
          if (it_dep == seen.end()) continue;
          end = std::max(end, it_dep->second.end);
          found = true;
        }
        return end;
      };
      bool found = false;
      if (is_communication(op_category(step.op))) {
        double ready = 0.0;
        for (std::int32_t r : ranks) {
          const auto other = seen.find({r, unit, index});
          if (other == seen.end()) continue;
          ready = std::max(ready, input_end(r, false, found));
          if (other->second.has_prev) ready = std::max(ready, other->second.prev_end);
        }
        collective.push_back(s.start - ready);
        continue;
      }
      const double cross_end = input_end(rank, true, found);
      if (found && (!s.has_prev || s.prev_end <= cross_end)) {
        handoff.push_back(s.start - cross_end);
      } else if (s.has_prev) {
        gap.push_back(s.start - s.prev_end);
      }
    }
  }
  // The step overheads add up along the path of an iteration, so their mean (the expected delay per step,
  // rare long preemptions included) is what an iteration pays; the frame is once per iteration.
  const auto positive_mean = [](const std::vector<double>& v) {
    double sum = 0.0;
    for (double x : v) sum += x;
    return v.empty() ? 0.0 : std::max(0.0, sum / static_cast<double>(v.size()));
  };
  Overheads o;
  o.handoff_ms = positive_mean(handoff);
  o.collective_ms = positive_mean(collective);
  o.step_gap_ms = positive_mean(gap);
  o.frame_ms = std::max(0.0, median_of(std::move(frame)));
  return o;
}

double predict_iteration_ms(const Plan& plan, const std::vector<std::vector<OpTimes>>& samples, int chunks,
                            int units, const Overheads& overheads) {
  if (samples.empty()) return 0.0;
  std::vector<double> predicted;
  for (const auto& per_rank : samples) predicted.push_back(simulate_ranks_ms(plan, per_rank, chunks, units, overheads));
  return median_of(std::move(predicted)) + overheads.frame_ms;
}

int replan_slot(const OpTimes& recent, const UnitShape& shape, int current, double resolution_ms) {
  const std::vector<SlotRow> table = slot_table(recent, shape);
  const int best = best_slot(table);
  if (current < 1 || current > static_cast<int>(table.size())) return best;
  const double gain = table[static_cast<std::size_t>(current - 1)].exposed_ms - table[static_cast<std::size_t>(best - 1)].exposed_ms;
  return gain > resolution_ms ? best : current;
}

Trace predicted_timeline(const Plan& plan, const OpTimes& times, int chunks, int units, bool emulated_link) {
  Trace trace;
  trace.ranks.push_back({0, "rank 0 (predicted)"});
  const std::uint32_t compute = trace.track_for({0, 0, DeviceKind::Cpu, TrackKind::ComputeLane, 0, "compute"});
  const std::uint32_t comm = trace.track_for({0, 0, DeviceKind::Cpu, TrackKind::CommLane, 1, "comm"});
  const std::vector<StepTiming> timing = simulate_steps(plan, times, chunks, {});
  double unit_ms = 0.0;
  for (const StepTiming& t : timing) unit_ms = std::max(unit_ms, t.end);
  constexpr double kNsPerMs = 1e6;
  for (int u = 0; u < units; ++u) {
    const double offset = u * unit_ms;
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      const PlanStep& step = plan.steps[i];
      Span span;
      span.start_ns = std::llround((offset + timing[i].start) * kNsPerMs);
      span.end_ns = std::llround((offset + timing[i].end) * kNsPerMs);
      span.name = trace.strings.intern(op_name(step.op));
      span.category = op_category(step.op);
      const bool block_mlp_op = step.op == Op::AttnL || step.op == Op::MlpL;
      span.layer = 2 * u + (block_mlp_op ? 0 : 1);
      span.op_instance = step.chunk;
      span.flags = kSpanPredicted;
      if (emulated_link && is_communication(span.category)) span.flags |= kSpanEmulated;
      trace.tracks[step.lane == Lane::Comm ? comm : compute].spans.push_back(span);
    }
  }
  trace.metadata.emplace_back("source", "cost model prediction");
  trace.finalize();
  return trace;
}

}  // namespace scmoe::prof::cost
