#include "schedule/forward_executor.h"

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <stdexcept>
#include <string>

#include "parallel/emulated_link.h"
#include "schedule/unit_ops.h"

namespace scmoe::engine {

using prof::cost::Op;

namespace {

// Distinct, reproducible seeds for the per-iteration draws (splitmix64 finaliser).
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int layer_of(Op op, int unit, bool has_block_mlp) {
  if (!has_block_mlp) return unit;
  return 2 * unit + (op == Op::AttnL || op == Op::MlpL ? 0 : 1);
}

// Runs one op; an error names where it happened (rank, layer, op) and drops ATen's C++ backtrace.
void run_op_with_context(const prof::cost::PlanStep& step, const UnitContext& ctx, UnitState& state, int layer) {
  const auto where = [&] {
    return "rank " + std::to_string(ctx.comm->rank()) + ", layer " + std::to_string(layer) + ", " +
           std::string(prof::cost::op_name(step.op)) + ": ";
  };
  try {
    run_unit_op(step.op, step.chunk, ctx, state);
  } catch (const Cancelled&) {
    throw;
  } catch (const c10::Error& e) {
    throw std::runtime_error(where() + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw std::runtime_error(where() + e.what());
  }
}

}  // namespace

std::vector<at::Tensor> make_rank_inputs(const EngineConfig& c, int iteration) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(mix_seed(c.seed, static_cast<std::uint64_t>(iteration)));
  const at::Tensor all = at::randn({static_cast<std::int64_t>(c.ep_size) * c.tokens_per_rank, c.hidden}, generator,
                                   at::TensorOptions().dtype(at::kFloat));
  std::vector<at::Tensor> inputs;
  for (int r = 0; r < c.ep_size; ++r) {
    inputs.push_back(all.narrow(0, static_cast<std::int64_t>(r) * c.tokens_per_rank, c.tokens_per_rank).contiguous());
  }
  return inputs;
}

ForwardExecutor::ForwardExecutor(const EngineConfig& config, const ModelWeights& weights, AbortSignal& abort)
    : config_(config), weights_(weights), abort_(abort), group_(config.ep_size, abort) {
  for (int op = 0; op < prof::cost::kOpCount; ++op) {
    op_names_[static_cast<std::size_t>(op)] = collector_.intern(prof::cost::op_name(static_cast<Op>(op)));
  }
  for (int r = 0; r < config.ep_size; ++r) {
    std::unique_ptr<Communicator> comm = group_.communicator(r);
    if (config.link.enabled) comm = std::make_unique<EmulatedLinkCommunicator>(std::move(comm), config.link, abort);
    comms_.push_back(std::move(comm));
    const auto on_error = [this](std::exception_ptr e) { on_lane_error(e); };
    compute_lanes_.push_back(std::make_unique<Lane>(abort, on_error));
    comm_lanes_.push_back(std::make_unique<Lane>(abort, on_error));
    tracks_.push_back({collector_.track(r, prof::TrackKind::ComputeLane, "compute"),
                       collector_.track(r, prof::TrackKind::CommLane, "comm")});
  }
}

ForwardExecutor::~ForwardExecutor() = default;  // lanes are idle after every run(); they join here

void ForwardExecutor::on_lane_error(std::exception_ptr error) {
  {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = error;
  }
  abort_.trigger();
}

ForwardResult ForwardExecutor::run(Arch arch, const prof::cost::Plan& plan, int iteration,
                                   const std::vector<at::Tensor>& inputs) {
  const int ranks = config_.ep_size;
  const int units = static_cast<int>(weights_.units.size());
  const std::size_t steps = plan.steps.size();
  const bool has_block_mlp = !config_.moe_every_block;

  // Which steps another lane waits for: only those get an event.
  std::vector<bool> needs_event(steps, false);
  for (const auto& step : plan.steps) {
    for (int d : step.deps) {
      if (plan.steps[static_cast<std::size_t>(d)].lane != step.lane) needs_event[static_cast<std::size_t>(d)] = true;
    }
  }
  std::vector<std::vector<UnitState>> states(static_cast<std::size_t>(ranks), std::vector<UnitState>(static_cast<std::size_t>(units)));
  std::vector<std::vector<UnitContext>> contexts(static_cast<std::size_t>(ranks));
  const std::size_t event_count = static_cast<std::size_t>(ranks * units) * steps;
  const auto events = std::make_unique<LaneEvent[]>(event_count);

  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < ranks; ++r) {
    const auto ru = static_cast<std::size_t>(r);
    for (int u = 0; u < units; ++u) {
      UnitContext ctx;
      ctx.config = &config_;
      ctx.arch = arch;
      ctx.weights = &weights_.units[static_cast<std::size_t>(u)];
      ctx.comm = comms_[ru].get();
      if (config_.gate_noise > 0.0) {
        ctx.gate_noise = at::make_generator<at::CPUGeneratorImpl>(
            mix_seed(mix_seed(config_.seed, static_cast<std::uint64_t>(iteration)), static_cast<std::uint64_t>(r * units + u)));
      }
      contexts[ru].push_back(std::move(ctx));
      states[ru][static_cast<std::size_t>(u)].input = u == 0 ? &inputs[ru] : &states[ru][static_cast<std::size_t>(u - 1)].output;
    }
    for (int u = 0; u < units; ++u) {
      UnitState& state = states[ru][static_cast<std::size_t>(u)];
      const UnitContext& ctx = contexts[ru][static_cast<std::size_t>(u)];
      LaneEvent* unit_events = &events[(ru * static_cast<std::size_t>(units) + static_cast<std::size_t>(u)) * steps];
      for (std::size_t i = 0; i < steps; ++i) {
        const prof::cost::PlanStep& step = plan.steps[i];
        Lane& lane = step.lane == prof::cost::Lane::Compute ? *compute_lanes_[ru] : *comm_lanes_[ru];
        for (int d : step.deps) {
          if (plan.steps[static_cast<std::size_t>(d)].lane != step.lane) lane.wait(unit_events[d]);
        }
        const prof::capture::HostTrackId track = tracks_[ru][static_cast<std::size_t>(step.lane)];
        const std::int32_t layer = layer_of(step.op, u, has_block_mlp);
        lane.enqueue([this, &step, &ctx, &state, track, layer, iteration] {
          // A collective starts when every rank has arrived. Waiting for the slowest rank still blocks the
          // lane, but the span (and so the time the cost model is fed) is the exchange itself.
          if (prof::is_communication(prof::cost::op_category(step.op))) ctx.comm->barrier();
          const std::int64_t begin = prof::capture::HostCollector::now_ns();
          run_op_with_context(step, ctx, state, layer);
          const std::int64_t end = prof::capture::HostCollector::now_ns();
          std::uint8_t flags = 0;
          if (prof::is_communication(prof::cost::op_category(step.op)) && ctx.comm->emulated()) flags |= prof::kSpanEmulated;
          if (step.op == Op::Gate && state.routing.dropped > 0) flags |= prof::kSpanDropped;
          collector_.add_span(track, op_names_[static_cast<std::size_t>(step.op)], prof::cost::op_category(step.op),
                              begin, end, layer, iteration, step.chunk, flags);
        });
        if (needs_event[i]) lane.record(unit_events[i]);
      }
    }
  }
  // The cross-lane dependencies (encode -> dispatch -> expert -> combine -> decode) as flows, so the
  // critical path can follow them.
  for (int r = 0; r < ranks; ++r) {
    for (int u = 0; u < units; ++u) {
      const auto key = [&](const prof::cost::PlanStep& s) {
        return prof::capture::HostSpanKey{tracks_[static_cast<std::size_t>(r)][static_cast<std::size_t>(s.lane)],
                                          op_names_[static_cast<std::size_t>(s.op)], layer_of(s.op, u, has_block_mlp),
                                          iteration, s.chunk};
      };
      for (const auto& step : plan.steps) {
        for (int d : step.deps) {
          const prof::cost::PlanStep& from = plan.steps[static_cast<std::size_t>(d)];
          if (from.lane != step.lane) collector_.add_flow(key(from), key(step));
        }
      }
    }
  }
  for (int r = 0; r < ranks; ++r) {
    compute_lanes_[static_cast<std::size_t>(r)]->wait_idle();
    comm_lanes_[static_cast<std::size_t>(r)]->wait_idle();
  }
  const auto finish = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(error_mutex_);
    if (error_) std::rethrow_exception(error_);
  }
  abort_.throw_if_triggered();

  ForwardResult result;
  result.wall_ms = std::chrono::duration<double, std::milli>(finish - start).count();
  result.trace = collector_.collect();
  prof::Trace& trace = result.trace;
  for (int r = 0; r < ranks; ++r) {
    const auto ru = static_cast<std::size_t>(r);
    trace.ranks.push_back({r, "rank " + std::to_string(r)});
    result.outputs.push_back(states[ru].back().output);
    for (int u = 0; u < units; ++u) {
      const UnitState& s = states[ru][static_cast<std::size_t>(u)];
      result.tokens_dropped += s.routing.dropped;
      result.aux_loss += s.routing.aux_loss / (ranks * units);
    }
  }
  if (prof::cost::is_shortcut(to_cost_arch(arch))) {
    for (int u = 0; u < units; ++u) {
      ShortcutSimilarity sim;
      sim.layer = layer_of(Op::Output, u, has_block_mlp);
      for (int r = 0; r < ranks; ++r) {
        const UnitState& s = states[static_cast<std::size_t>(r)][static_cast<std::size_t>(u)];
        sim.cosine += at::cosine_similarity(s.shortcut, s.hmh_l1, 1).mean().item<double>() / ranks;
        sim.l2 += (s.shortcut - s.hmh_l1).norm(2, {1}).mean().item<double>() / ranks;
      }
      result.similarity.push_back(sim);
    }
  }
  trace.metadata.emplace_back("arch", std::string(to_string(arch)));
  return result;
}

}  // namespace scmoe::engine
