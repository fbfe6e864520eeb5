// The engine on a GPU (device = cuda, bf16, one GPU as rank 0): its outputs against the CPU fp32 engine
// on the same weights and tokens, the overlap schedule against the sequential one, the emulated link on
// the comm stream, and the CUPTI capture that every GPU run carries. Skipped, with the reason, wherever
// the engine cannot run on a GPU (no device, no CUDA in LibTorch, LibTorch older than 2.1).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "model/weights.h"
#include "parallel/abort_signal.h"
#include "parallel/gpu_runtime.h"
#include "schedule/device_op_timer.h"
#include "schedule/forward_executor.h"
#include "schedule/unit_ops.h"
#include "scmoe/engine/config.h"
#include "scmoe/profiler/cost_model.h"

namespace scmoe::engine {
namespace {

namespace cost = prof::cost;

// Small shapes, multiples of 8 (the grouped GEMM's alignment), eight experts all on the one GPU; dropless
// so that a near-tie in the router cannot drop a different token on each device.
EngineConfig gpu_config(Arch arch) {
  EngineConfig c;
  apply_preset("demo", c);
  c.device = DeviceType::Cuda;
  c.dtype = DType::BF16;
  c.ep_size = 1;
  c.num_experts = 8;
  c.arch = arch;
  c.shortcut_position = 2;
  c.expert_slot = 2;
  c.tokens_per_rank = 256;
  c.dropless = true;
  c.pairs = 2;
  c.seed = std::random_device{}();  // fresh weights and tokens every run (printed on failure)
  return c;
}

EngineConfig cpu_twin(EngineConfig c) {
  c.device = DeviceType::Cpu;
  c.dtype = DType::F32;
  return c;
}

cost::UnitShape shape_of(const EngineConfig& c) {
  return {to_cost_arch(c.arch), c.shortcut_position, !c.moe_every_block, c.pipeline_chunks};
}

ForwardResult run_once(const EngineConfig& c, bool overlap, int iteration) {
  AbortSignal abort;
  const ModelWeights weights = make_weights(c);
  ForwardExecutor executor(c, weights, abort);
  const int slot = cost::is_shortcut(to_cost_arch(c.arch)) ? c.expert_slot : 1;
  return executor.run(c.arch, cost::build_plan(shape_of(c), slot, overlap), iteration, make_rank_inputs(c, iteration));
}

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor g = got.to(at::kCPU, at::kDouble);
  const at::Tensor w = want.to(at::kCPU, at::kDouble);
  return (g - w).norm().item<double>() / w.norm().item<double>();
}

// Fills the caching allocator's free memory with NaN, so an output element the engine never wrote shows.
void poison_device_memory() {
  at::full({64 << 20}, std::numeric_limits<float>::quiet_NaN(), at::TensorOptions().device(at::kCUDA)).reset();
}

// A CudaBackend without CUDA for the DeviceOpTimer: an event's time is set by the test when recorded.
class FakeTimingBackend final : public CudaBackend {
 public:
  std::vector<float> at_ms;   // per event id - 1
  float next_ms = 0.0f;       // the time the next recorded event gets
  int created = 0, destroyed = 0, synchronised = 0;
  int device_count() override { return 0; }
  std::vector<std::unique_ptr<Communicator>> make_local_group(int, const AbortSignal&) override { return {}; }
  std::unique_ptr<Communicator> make_distributed(const std::string&, int, int, int, int, const AbortSignal&) override {
    return nullptr;
  }
  void enqueue_delay(void*, std::int64_t) override {}
  void set_timeout(std::chrono::milliseconds) override {}
  void* create_timing_event() override {
    at_ms.push_back(0.0f);
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(++created));
  }
  void record_timing_event(void* event, void*) override { at_ms[index(event)] = next_ms; }
  float elapsed_ms(void* begin, void* end) override {
    ++synchronised;
    return at_ms[index(end)] - at_ms[index(begin)];
  }
  void destroy_timing_event(void*) override { ++destroyed; }

 private:
  static std::size_t index(void* event) { return reinterpret_cast<std::uintptr_t>(event) - 1; }
};

// Spans are placed at the anchor's host time plus device time; events are pooled across iterations.
TEST(DeviceOpTimer, PlacesOpsAtTheAnchorPlusDeviceTimeAndReusesItsEvents) {
  auto backend = std::make_shared<FakeTimingBackend>();
  prof::capture::HostCollector collector;
  const auto track = collector.track(0, prof::TrackKind::CommLane, "comm");
  const auto name = collector.intern("dispatch");
  {
    DeviceOpTimer timer(backend, nullptr);
    for (int iteration = 0; iteration < 2; ++iteration) {
      backend->next_ms = 10.0f;
      void* anchor = timer.record();
      backend->next_ms = 10.5f;
      void* begin = timer.record();
      backend->next_ms = 12.0f;
      void* end = timer.record();
      timer.add(begin, end, {track, name, prof::Category::Dispatch, 1, iteration, 0, prof::kSpanEmulated});
      const std::int64_t anchor_ns = 1'000'000'000;
      EXPECT_EQ(timer.resolve(anchor, anchor_ns, collector), anchor_ns + 2'000'000);
    }
    EXPECT_EQ(backend->created, 3) << "the second iteration reuses the first one's events";
  }
  EXPECT_EQ(backend->destroyed, 3);
  const prof::Trace trace = collector.collect();
  std::vector<prof::Span> spans;
  for (const prof::Track& t : trace.tracks) spans.insert(spans.end(), t.spans.begin(), t.spans.end());
  ASSERT_EQ(spans.size(), 2u);
  for (const prof::Span& s : spans) {
    EXPECT_EQ(s.start_ns, 1'000'500'000);  // 0.5 ms after the anchor
    EXPECT_EQ(s.end_ns, 1'002'000'000);
    EXPECT_EQ(s.category, prof::Category::Dispatch);
    EXPECT_EQ(s.layer, 1);
    EXPECT_TRUE(s.has_flag(prof::kSpanEmulated));
  }
}

// Runs everywhere: where the engine cannot use a GPU, device = cuda is one error naming "device" before
// anything runs; where it can, asking for more GPUs than the machine has is that error.
TEST(EngineGpuConfig, AnUnusableGpuIsOneDeviceErrorBeforeAnythingRuns) {
  EngineConfig c = gpu_config(Arch::ScMoE);
  if (!cuda_device_error(c)) {
    c.gpu_devices = c.ep_size = 4096;
    c.num_experts = 4096;
  }
  const auto error = cuda_device_error(c);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->field, "device");
  EXPECT_FALSE(error->message.empty());
  try {
    make_weights(c);
    FAIL() << "make_weights placed weights on an unusable device";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "device: " + error->message);
  }
  EXPECT_FALSE(cuda_device_error(cpu_twin(c)).has_value());
}

class EngineGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    // The CUPTI module lives next to the scmoe executable, not next to the tests.
    setenv("SCMOE_CUPTI_MODULE", SCMOE_CUPTI_MODULE_PATH, 0);
    if (const auto error = cuda_device_error(gpu_config(Arch::ScMoE))) GTEST_SKIP() << error->message;
  }
};

TEST_F(EngineGpu, Bf16OutputsMatchTheCpuReference) {
  for (const Arch arch : {Arch::Top2, Arch::ScMoE}) {
    const EngineConfig c = gpu_config(arch);
    SCOPED_TRACE(std::string(to_string(arch)) + ", seed " + std::to_string(c.seed));
    poison_device_memory();
    const ForwardResult gpu = run_once(c, /*overlap=*/true, 3);
    const ForwardResult cpu = run_once(cpu_twin(c), /*overlap=*/true, 3);
    ASSERT_EQ(gpu.outputs.size(), 1u);
    const at::Tensor& out = gpu.outputs[0];
    EXPECT_TRUE(out.is_cuda());
    EXPECT_EQ(out.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(at::isfinite(out.to(at::kFloat)).all().item<bool>()) << "unwritten (NaN) output elements";
    EXPECT_LE(relative_error(out, cpu.outputs[0]), 1e-2);
    EXPECT_EQ(gpu.tokens_dropped, 0);
    EXPECT_NEAR(gpu.aux_loss, cpu.aux_loss, 1e-2 * cpu.aux_loss);
  }
}

TEST_F(EngineGpu, OverlapEqualsSequential) {
  const EngineConfig c = gpu_config(Arch::ScMoE);
  SCOPED_TRACE("seed " + std::to_string(c.seed));
  const ForwardResult sequential = run_once(c, false, 5);
  for (int slot = 1; slot <= expert_slots(c.shortcut_position); ++slot) {
    EngineConfig k = c;
    k.expert_slot = slot;
    poison_device_memory();
    const ForwardResult overlap = run_once(k, true, 5);
    // Same kernels on the same data in the same order on the compute stream: expected to agree to the last
    // bit. The slack is for kernels CUDA does not promise to be bitwise reproducible across streams
    // (cuBLAS heuristics, atomics), not for a different result.
    EXPECT_LE(relative_error(overlap.outputs[0], sequential.outputs[0]), 1e-3) << "K = " << slot;
  }
}

TEST_F(EngineGpu, EmulatedLinkHoldsTheCommStreamForTheModelledTime) {
  EngineConfig c = gpu_config(Arch::ScMoE);
  c.link.enabled = true;
  c.link.bandwidth_gbps = 0.5;
  c.link.latency_us = 50.0;
  c.link.emulated_ranks = 8;
  const ForwardResult r = run_once(c, true, 1);
  // Top-1, dropless: every token is one row of `hidden` bf16 values; 7 of 8 rows would cross the link.
  const double bytes = cost::exchange_bytes(c.tokens_per_rank, 1, c.hidden, 2, c.link.emulated_ranks);
  const auto modelled_ns = static_cast<std::int64_t>(cost::link_transfer_ms(bytes, 0.5, 50.0) * 1e6);
  int dispatches = 0, combines = 0;
  for (const prof::Track& track : r.trace.tracks) {
    for (const prof::Span& span : track.spans) {
      const std::string_view name = r.trace.name_of(span);
      if (name != "dispatch" && name != "combine") continue;
      if (track.info.kind == prof::TrackKind::Annotation || track.info.kind == prof::TrackKind::CudaStream) continue;
      EXPECT_EQ(track.info.kind, prof::TrackKind::CommLane) << name;
      EXPECT_TRUE(span.has_flag(prof::kSpanEmulated)) << name;
      // One microsecond of slack: CUDA event timestamps have about half a microsecond of resolution.
      EXPECT_GE(span.duration_ns(), modelled_ns - 1000) << name << " layer " << span.layer;
      (name == "dispatch" ? dispatches : combines)++;
    }
  }
  EXPECT_EQ(dispatches, c.pairs);
  EXPECT_EQ(combines, c.pairs);
}

TEST_F(EngineGpu, EveryRunIsCapturedWithCuptiAndNcclIsAttributedToItsPhase) {
  const ForwardResult r = run_once(gpu_config(Arch::ScMoE), true, 2);
  std::string status;
  for (const auto& [key, value] : r.trace.metadata) {
    if (key == "cupti_capture") status = value;
  }
  ASSERT_EQ(status, "on");
  EXPECT_EQ(r.trace.dropped_records, 0u);
  // The 1-rank NCCL send/recv of each exchange ran inside the op's NVTX range, which names its phase.
  int dispatch = 0, combine = 0, compute_kernels = 0;
  for (const prof::Track& track : r.trace.tracks) {
    if (track.info.kind != prof::TrackKind::CudaStream) continue;
    for (const prof::Span& span : track.spans) {
      if (r.trace.name_of(span).starts_with("ncclDevKernel")) {
        dispatch += span.category == prof::Category::Dispatch;
        combine += span.category == prof::Category::Combine;
      } else {
        compute_kernels += prof::is_computation(span.category) || span.category == prof::Category::Other;
      }
    }
  }
  EXPECT_GE(dispatch, 1);
  EXPECT_GE(combine, 1);
  EXPECT_GT(compute_kernels, 0);
}

}  // namespace
}  // namespace scmoe::engine
