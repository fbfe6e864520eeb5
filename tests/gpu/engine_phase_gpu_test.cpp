// The CUPTI capture of a GPU run with the emulated link, read by the overlap analysis: the delay kernel
// holding the comm stream is communication of its NVTX phase, so top-2 (which hides nothing) reports an
// overlap of about 0 on its CUDA streams. Skipped, with the reason, without a usable GPU.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "model/weights.h"
#include "parallel/abort_signal.h"
#include "parallel/gpu_runtime.h"
#include "schedule/forward_executor.h"
#include "schedule/unit_ops.h"
#include "scmoe/engine/config.h"
#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/cost_model.h"

namespace scmoe::engine {
namespace {

namespace cost = prof::cost;

// One GPU as rank 0 of 8 behind a slow emulated link (0.5 GB/s, 50 us): each exchange holds the comm stream
// for hundreds of microseconds, far longer than any kernel of these small shapes.
EngineConfig top2_with_link() {
  EngineConfig c;
  apply_preset("demo", c);
  c.device = DeviceType::Cuda;
  c.dtype = DType::BF16;
  c.ep_size = 1;
  c.num_experts = 8;
  c.arch = Arch::Top2;
  c.tokens_per_rank = 256;
  c.dropless = true;
  c.pairs = 2;
  c.seed = std::random_device{}();
  c.link.enabled = true;
  c.link.bandwidth_gbps = 0.5;
  c.link.latency_us = 50.0;
  c.link.emulated_ranks = 8;
  return c;
}

// The CUDA-stream tracks of a trace (what CUPTI measured), without the engine's own lane spans.
prof::Trace cuda_streams_of(const prof::Trace& trace) {
  prof::Trace out;
  out.strings = trace.strings;
  for (const prof::Track& t : trace.tracks) {
    if (t.info.kind == prof::TrackKind::CudaStream) out.tracks.push_back(t);
  }
  return out;
}

TEST(EngineGpuPhase, Top2OverlapOnTheCudaStreamsIsAboutZero) {
  setenv("SCMOE_CUPTI_MODULE", SCMOE_CUPTI_MODULE_PATH, 0);
  const EngineConfig c = top2_with_link();
  if (const auto error = cuda_device_error(c)) GTEST_SKIP() << error->message;
  AbortSignal abort;
  const ModelWeights weights = make_weights(c);
  ForwardExecutor executor(c, weights, abort);
  const cost::UnitShape shape{to_cost_arch(c.arch), c.shortcut_position, !c.moe_every_block, c.pipeline_chunks};
  ForwardResult r;
  for (int iteration = 0; iteration < 2; ++iteration) {  // the first one warms up cuBLAS and NCCL
    r = executor.run(c.arch, cost::build_plan(shape, 1, /*overlap=*/true), iteration, make_rank_inputs(c, iteration));
  }
  const prof::Trace streams = cuda_streams_of(r.trace);
  ASSERT_FALSE(streams.tracks.empty()) << "no CUPTI capture";
  const auto report = prof::analysis::analyze_overlap(streams);
  ASSERT_EQ(report.whole_trace.size(), 1u);
  const prof::analysis::OverlapRow& row = report.whole_trace[0];
  SCOPED_TRACE("seed " + std::to_string(c.seed));
  // The delay kernels are there, as dispatch and combine, not other_comm and not computation.
  EXPECT_GT(row.dispatch.comm_ns, 100'000) << "dispatch's emulated link time";
  EXPECT_GT(row.combine.comm_ns, 100'000) << "combine's emulated link time";
  EXPECT_LT(row.total.overlap_percent(), 2.0) << "top-2 hides no communication";
}

}  // namespace
}  // namespace scmoe::engine
