#include "schedule/forward_executor.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#if __has_include(<nvtx3/nvToolsExt.h>)
#include <nvtx3/nvToolsExt.h>
#define SCMOE_HAVE_NVTX 1
#else
#define SCMOE_HAVE_NVTX 0
#endif

#include "parallel/emulated_link.h"
#include "parallel/gpu_runtime.h"
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

// The NVTX range of one op launch on a GPU lane, in domain "scmoe": named "scmoe:<op>" (the engine
// annotation rule of the profiler's classifier, so CUPTI attributes the NCCL kernels launched inside to
// dispatch or combine; the prefix keeps the ranges apart from the op spans, which measured_op_times reads
// by bare op name), category = op kind + 1 (named after the op), and a 64-bit payload:
// iteration (int32, bits 63..32) | layer (bits 31..16) | rank (bits 15..4) | lane (bits 3..0).
class OpRange {
 public:
  OpRange(Op op, int rank, prof::cost::Lane lane, int layer, int iteration) {
#if SCMOE_HAVE_NVTX
    nvtxEventAttributes_t a{};
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.category = static_cast<std::uint32_t>(op) + 1;
    a.payloadType = NVTX_PAYLOAD_TYPE_UNSIGNED_INT64;
    a.payload.ullValue = (std::uint64_t{static_cast<std::uint32_t>(iteration)} << 32) |
                         (std::uint64_t{static_cast<std::uint16_t>(layer)} << 16) |
                         (std::uint64_t{static_cast<std::uint32_t>(rank) & 0xFFFu} << 4) |
                         (static_cast<std::uint64_t>(lane) & 0xFu);
    a.messageType = NVTX_MESSAGE_TYPE_ASCII;
    a.message.ascii = range_names()[static_cast<std::size_t>(op)].c_str();
    nvtxDomainRangePushEx(domain(), &a);
#else
    (void)op, (void)rank, (void)lane, (void)layer, (void)iteration;
#endif
  }
  ~OpRange() {
#if SCMOE_HAVE_NVTX
    nvtxDomainRangePop(domain());
#endif
  }
  OpRange(const OpRange&) = delete;
  OpRange& operator=(const OpRange&) = delete;

 private:
#if SCMOE_HAVE_NVTX
  static const std::array<std::string, prof::cost::kOpCount>& range_names() {
    static const auto names = [] {
      std::array<std::string, prof::cost::kOpCount> n;
      for (int op = 0; op < prof::cost::kOpCount; ++op) n[static_cast<std::size_t>(op)] = "scmoe:" + std::string(prof::cost::op_name(static_cast<Op>(op)));
      return n;
    }();
    return names;
  }
  // Created at the first op range, after the executor started CUPTI: NVTX binds its injection library
  // (CUPTI's) at its first call in the process.
  static nvtxDomainHandle_t domain() {
    static const nvtxDomainHandle_t d = [] {
      const nvtxDomainHandle_t created = nvtxDomainCreateA("scmoe");
      for (int op = 0; op < prof::cost::kOpCount; ++op) {
        nvtxDomainNameCategoryA(created, static_cast<std::uint32_t>(op) + 1,
                                std::string(prof::cost::op_name(static_cast<Op>(op))).c_str());
      }
      return created;
    }();
    return d;
  }
#endif
};

// What a span says besides its time: an exchange over an emulated link, a gate that dropped tokens.
std::uint8_t span_flags(const prof::cost::PlanStep& step, const UnitContext& ctx, const UnitState& state) {
  std::uint8_t flags = 0;
  if (prof::is_communication(prof::cost::op_category(step.op)) && ctx.comm->emulated()) flags |= prof::kSpanEmulated;
  if (step.op == Op::Gate && state.routing.dropped > 0) flags |= prof::kSpanDropped;
  return flags;
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
  if (c.device == DeviceType::Cuda) {
    const at::ScalarType dtype = c.dtype == DType::BF16 ? at::kBFloat16 : at::kFloat;
    for (int r : local_ranks(c)) {
      at::Tensor& input = inputs[static_cast<std::size_t>(r)];
      input = input.to(rank_device(c, r), dtype);
    }
  }
  return inputs;
}

ForwardExecutor::ForwardExecutor(const EngineConfig& config, const ModelWeights& weights, AbortSignal& abort)
    : config_(config), weights_(weights), abort_(abort), ranks_(local_ranks(config)), group_(config.ep_size, abort) {
  for (int op = 0; op < prof::cost::kOpCount; ++op) {
    op_names_[static_cast<std::size_t>(op)] = collector_.intern(prof::cost::op_name(static_cast<Op>(op)));
  }
  if (config.device == DeviceType::Cuda) {
    set_up_gpu();
    return;
  }
  if (config.world_size > 1) process_group_ = std::make_unique<GlooProcessGroup>(config, abort);
  for (int r : ranks_) {
    std::unique_ptr<Communicator> comm = process_group_ ? process_group_->communicator() : group_.communicator(r);
    if (config.link.enabled) comm = std::make_unique<EmulatedLinkCommunicator>(std::move(comm), config.link, abort);
    comms_.push_back(std::move(comm));
    const auto on_error = [this](std::exception_ptr e) { on_lane_error(e); };
    compute_lanes_.push_back(std::make_unique<Lane>(abort, on_error));
    comm_lanes_.push_back(std::make_unique<Lane>(abort, on_error));
    tracks_.push_back({collector_.track(r, prof::TrackKind::ComputeLane, "compute"),
                       collector_.track(r, prof::TrackKind::CommLane, "comm")});
  }
}

void ForwardExecutor::set_up_gpu() {
  if (const auto error = cuda_device_error(config_)) throw std::runtime_error(error->field + ": " + error->message);
  gpu_ = cuda_backend();
  // Before NCCL and before the first NVTX range, so that both are captured.
  start_cupti();
  if (config_.world_size > 1) {
    std::string host;
    int port = 0;
    if (!parse_rendezvous(config_.rendezvous, host, port)) {
      throw std::runtime_error("rendezvous: expected \"host:port\", got \"" + config_.rendezvous + "\"");
    }
    comms_.push_back(gpu_->make_distributed(host, port, config_.world_size, config_.rank, config_.local_device, abort_));
  } else {
    comms_ = gpu_->make_local_group(config_.ep_size, abort_);
  }
  const auto on_error = [this](std::exception_ptr e) { on_lane_error(e); };
  for (std::size_t i = 0; i < ranks_.size(); ++i) {
    const int r = ranks_[i];
    if (config_.link.enabled) {
      comms_[i] = std::make_unique<EmulatedLinkCommunicator>(std::move(comms_[i]), config_.link, abort_, gpu_);
    }
    const c10::Device device = rank_device(config_, r);
    const c10::Stream compute = pool_stream(device, false);
    const c10::Stream comm = pool_stream(device, true);  // the A2A must not queue behind compute kernels
    compute_lanes_.push_back(std::make_unique<Lane>(abort_, on_error, compute));
    comm_lanes_.push_back(std::make_unique<Lane>(abort_, on_error, comm));
    timers_.push_back({std::make_unique<DeviceOpTimer>(gpu_, native_handle(compute)),
                       std::make_unique<DeviceOpTimer>(gpu_, native_handle(comm))});
    tracks_.push_back({collector_.track(r, prof::TrackKind::ComputeLane, "compute"),
                       collector_.track(r, prof::TrackKind::CommLane, "comm")});
  }
}

void ForwardExecutor::start_cupti() {
  if (!config_.cupti_capture) {
    cupti_status_ = "off";
    return;
  }
  prof::capture::CuptiCollector::Options options;
  options.rank = config_.world_size > 1 ? config_.rank : 0;
  std::string error;
  cupti_ = prof::capture::CuptiCollector::load(options, error);
  if (cupti_ && !cupti_->start(error)) cupti_.reset();
  // A run without CUPTI still runs: the trace says why it has no kernels.
  cupti_status_ = cupti_ ? "on" : "unavailable: " + error;
}

ForwardExecutor::~ForwardExecutor() {
  // Lanes are idle after every run(); they join first, then nothing uses the timers' events any more.
  compute_lanes_.clear();
  comm_lanes_.clear();
  timers_.clear();
  if (cupti_) {
    prof::Trace rest;
    std::string error;
    cupti_->stop_into(rest, error);  // only releases CUPTI: whatever the last run() left is not reported
  }
}

void ForwardExecutor::on_lane_error(std::exception_ptr error) {
  {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = error;
  }
  if (process_group_) process_group_->report_failure(error);
  abort_.trigger();
}

ForwardResult ForwardExecutor::run(Arch arch, const prof::cost::Plan& plan, int iteration,
                                   const std::vector<at::Tensor>& inputs) {
  const std::size_t ranks = ranks_.size();
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
  std::vector<std::vector<UnitState>> states(ranks, std::vector<UnitState>(static_cast<std::size_t>(units)));
  std::vector<std::vector<UnitContext>> contexts(ranks);
  const std::size_t event_count = ranks * static_cast<std::size_t>(units) * steps;
  const auto events = std::make_unique<LaneEvent[]>(event_count);
  // GPU: per rank, the anchor every device time of the iteration is measured from (recorded first on the
  // compute stream; the comm stream starts after it), and the latest op end per lane.
  struct Anchor {
    void* event = nullptr;
    std::int64_t host_ns = 0;
    LaneEvent recorded;
    std::array<std::int64_t, 2> last_end_ns{};
  };
  std::vector<Anchor> anchors(gpu_ ? ranks : 0);

  const auto start = std::chrono::steady_clock::now();
  const std::int64_t start_ns = prof::capture::HostCollector::now_ns();
  for (std::size_t i = 0; i < ranks; ++i) {
    const int r = ranks_[i];
    const std::vector<UnitWeights>& rank_weights = weights_.on_local_gpu(local_gpu_of(config_, r));
    for (int u = 0; u < units; ++u) {
      UnitContext ctx;
      ctx.config = &config_;
      ctx.arch = arch;
      ctx.weights = &rank_weights[static_cast<std::size_t>(u)];
      ctx.comm = comms_[i].get();
      if (config_.gate_noise > 0.0) {
        ctx.gate_noise = at::make_generator<at::CPUGeneratorImpl>(
            mix_seed(mix_seed(config_.seed, static_cast<std::uint64_t>(iteration)), static_cast<std::uint64_t>(r * units + u)));
      }
      contexts[i].push_back(std::move(ctx));
      states[i][static_cast<std::size_t>(u)].input =
          u == 0 ? &inputs[static_cast<std::size_t>(r)] : &states[i][static_cast<std::size_t>(u - 1)].output;
    }
    if (gpu_) {
      Anchor& anchor = anchors[i];
      DeviceOpTimer& timer = *timers_[i][0];
      compute_lanes_[i]->enqueue([&anchor, &timer] {
        anchor.event = timer.record();
        anchor.host_ns = prof::capture::HostCollector::now_ns();  // the stream is idle: the event runs now
      });
      compute_lanes_[i]->record(anchor.recorded);
      comm_lanes_[i]->wait(anchor.recorded);
    }
    for (int u = 0; u < units; ++u) {
      UnitState& state = states[i][static_cast<std::size_t>(u)];
      const UnitContext& ctx = contexts[i][static_cast<std::size_t>(u)];
      LaneEvent* unit_events = &events[(i * static_cast<std::size_t>(units) + static_cast<std::size_t>(u)) * steps];
      for (std::size_t k = 0; k < steps; ++k) {
        const prof::cost::PlanStep& step = plan.steps[k];
        Lane& lane = step.lane == prof::cost::Lane::Compute ? *compute_lanes_[i] : *comm_lanes_[i];
        for (int d : step.deps) {
          if (plan.steps[static_cast<std::size_t>(d)].lane != step.lane) lane.wait(unit_events[d]);
        }
        const prof::capture::HostTrackId track = tracks_[i][static_cast<std::size_t>(step.lane)];
        const std::int32_t layer = layer_of(step.op, u, has_block_mlp);
        if (gpu_) {
          DeviceOpTimer& timer = *timers_[i][static_cast<std::size_t>(step.lane)];
          // No barrier before a collective: NCCL meets the other ranks on the device. The op is launched
          // between two timing events; its span is read off them after the iteration.
          lane.enqueue([this, &step, &ctx, &state, &timer, track, layer, iteration] {
            void* begin = timer.record();
            {
              const OpRange range(step.op, ctx.comm->rank(), step.lane, layer, iteration);
              run_op_with_context(step, ctx, state, layer);
            }
            void* end = timer.record();
            const std::uint8_t flags = span_flags(step, ctx, state);
            timer.add(begin, end, {track, op_names_[static_cast<std::size_t>(step.op)], prof::cost::op_category(step.op),
                                   layer, iteration, step.chunk, flags});
          });
        } else {
          lane.enqueue([this, &step, &ctx, &state, track, layer, iteration] {
            // A collective starts when every rank has arrived. Waiting for the slowest rank still blocks the
            // lane, but the span (and so the time the cost model is fed) is the exchange itself.
            if (prof::is_communication(prof::cost::op_category(step.op))) ctx.comm->barrier();
            const std::int64_t begin = prof::capture::HostCollector::now_ns();
            run_op_with_context(step, ctx, state, layer);
            const std::int64_t end = prof::capture::HostCollector::now_ns();
            const std::uint8_t flags = span_flags(step, ctx, state);
            collector_.add_span(track, op_names_[static_cast<std::size_t>(step.op)], prof::cost::op_category(step.op),
                                begin, end, layer, iteration, step.chunk, flags);
          });
        }
        if (needs_event[k]) lane.record(unit_events[k]);
      }
    }
  }
  // The cross-lane dependencies (encode -> dispatch -> expert -> combine -> decode) as flows, so the
  // critical path can follow them.
  for (std::size_t i = 0; i < ranks; ++i) {
    for (int u = 0; u < units; ++u) {
      const auto key = [&](const prof::cost::PlanStep& s) {
        return prof::capture::HostSpanKey{tracks_[i][static_cast<std::size_t>(s.lane)],
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
  // GPU: each lane waits for its stream to pass its ops and turns their timing events into spans.
  for (std::size_t i = 0; i < anchors.size(); ++i) {
    for (std::size_t lane = 0; lane < 2; ++lane) {
      Lane& l = lane == 0 ? *compute_lanes_[i] : *comm_lanes_[i];
      l.enqueue([this, &anchor = anchors[i], &timer = *timers_[i][lane], lane] {
        anchor.last_end_ns[lane] = timer.resolve(anchor.event, anchor.host_ns, collector_);
      });
    }
  }
  for (std::size_t i = 0; i < ranks; ++i) {
    compute_lanes_[i]->wait_idle();
    comm_lanes_[i]->wait_idle();
  }
  const auto finish = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(error_mutex_);
    if (error_) std::rethrow_exception(error_);
  }
  abort_.throw_if_triggered();

  ForwardResult result;
  result.wall_ms = std::chrono::duration<double, std::milli>(finish - start).count();
  if (gpu_) {
    std::int64_t last_end_ns = start_ns;
    for (const Anchor& a : anchors) last_end_ns = std::max({last_end_ns, a.last_end_ns[0], a.last_end_ns[1]});
    result.wall_ms = static_cast<double>(last_end_ns - start_ns) / 1e6;
  }
  result.trace = collector_.collect();
  prof::Trace& trace = result.trace;
  for (std::size_t i = 0; i < ranks; ++i) {
    const int r = ranks_[i];
    trace.ranks.push_back({r, "rank " + std::to_string(r)});
    result.outputs.push_back(states[i].back().output);
    for (int u = 0; u < units; ++u) {
      const UnitState& s = states[i][static_cast<std::size_t>(u)];
      result.tokens_dropped += s.routing.dropped;
      result.aux_loss += s.routing.aux_loss / (static_cast<double>(ranks) * units);
    }
  }
  if (prof::cost::is_shortcut(to_cost_arch(arch))) {
    for (int u = 0; u < units; ++u) {
      ShortcutSimilarity sim;
      sim.layer = layer_of(Op::Output, u, has_block_mlp);
      for (std::size_t i = 0; i < ranks; ++i) {
        const UnitState& s = states[i][static_cast<std::size_t>(u)];
        sim.cosine += at::cosine_similarity(s.shortcut, s.hmh_l1, 1).mean().item<double>() / static_cast<double>(ranks);
        sim.l2 += (s.shortcut - s.hmh_l1).norm(2, {1}).mean().item<double>() / static_cast<double>(ranks);
      }
      result.similarity.push_back(sim);
    }
  }
  trace.metadata.emplace_back("arch", std::string(to_string(arch)));
  if (gpu_) add_gpu_metadata(trace);
  if (process_group_) process_group_->merge_iteration(result);
  return result;
}

void ForwardExecutor::add_gpu_metadata(prof::Trace& trace) {
  trace.metadata.emplace_back("device", "cuda");
  trace.metadata.emplace_back("dtype", std::string(to_string(config_.dtype)));
  std::string devices;
  for (int r : ranks_) devices += (devices.empty() ? "" : ", ") + rank_device(config_, r).str();
  trace.metadata.emplace_back("gpu_devices", devices);
  trace.metadata.emplace_back("cupti_capture", cupti_status_);
  if (!cupti_) return;
  // The kernels, copies and NCCL transfers of this iteration (the lanes have waited for all of them).
  std::string error;
  const std::uint64_t dropped_before = trace.dropped_records;
  if (!cupti_->flush_into(trace, error)) {
    trace.metadata.emplace_back("cupti_error", error);
    return;
  }
  trace.metadata.emplace_back("cupti_dropped_records", std::to_string(trace.dropped_records - dropped_before));
}

}  // namespace scmoe::engine
