// CUPTI collector on a real GPU: a compute kernel on one stream, a 1-rank NCCL send/recv on another
// inside an NVTX dispatch range. Skipped (with the reason) where there is no CUDA device.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "scmoe/profiler/capture/cupti_collector.h"
#include "scmoe/profiler/capture/host_collector.h"
#include "two_stream_workload.h"

namespace scmoe::prof::capture {
namespace {

const Track* stream_track(const Trace& t, std::uint32_t stream_id) {
  for (const Track& tr : t.tracks) {
    if (tr.info.kind == TrackKind::CudaStream && tr.info.native_id == std::int64_t(stream_id)) return &tr;
  }
  return nullptr;
}

TEST(CuptiGpu, TwoStreamsComputeAndNcclSendRecv) {
  int devices = 0;
  const cudaError_t probe = cudaGetDeviceCount(&devices);
  if (probe != cudaSuccess) GTEST_SKIP() << "no CUDA device: cudaGetDeviceCount: " << cudaGetErrorString(probe);
  if (devices == 0) GTEST_SKIP() << "no CUDA device: cudaGetDeviceCount returned 0";

  CuptiCollector::Options options;
  options.module_path = SCMOE_CUPTI_MODULE_PATH;
  std::string error;
  auto collector = CuptiCollector::load(options, error);
  ASSERT_NE(collector, nullptr) << error;
  ASSERT_TRUE(collector->start(error)) << error;

  const std::int64_t before = HostCollector::now_ns();
  const gputest::TwoStreamWorkload work = gputest::run_two_stream_workload();
  const std::int64_t after = HostCollector::now_ns();
  ASSERT_TRUE(work.error.empty()) << work.error;
  Trace trace;
  ASSERT_TRUE(collector->stop_into(trace, error)) << error;
  EXPECT_EQ(trace.dropped_records, 0u);
  ASSERT_NE(work.compute_stream_id, work.comm_stream_id);

  // Compute stream: both launches of the compute kernel, in order, computation, in the host clock.
  const Track* compute = stream_track(trace, work.compute_stream_id);
  ASSERT_NE(compute, nullptr) << "no track for compute stream " << work.compute_stream_id;
  std::vector<const Span*> kernels;
  for (const Span& s : compute->spans) {
    if (trace.name_of(s) == gputest::kComputeKernelName) kernels.push_back(&s);
  }
  ASSERT_EQ(kernels.size(), std::size_t(work.compute_launches));
  EXPECT_LE(kernels[0]->end_ns, kernels[1]->start_ns) << "one stream runs its kernels in order";
  for (const Span* k : kernels) {
    EXPECT_TRUE(is_computation(k->category));
    EXPECT_GT(k->duration_ns(), 0);
    EXPECT_GE(k->start_ns, before) << "kernel times are on the host steady_clock";
    EXPECT_LE(k->end_ns, after);
  }
  const bool has_memset = std::any_of(compute->spans.begin(), compute->spans.end(),
                                      [](const Span& s) { return s.category == Category::Memset; });
  EXPECT_TRUE(has_memset);

  // Comm stream: the NCCL kernel, classified as communication and attributed to dispatch by NVTX.
  const Track* comm = stream_track(trace, work.comm_stream_id);
  ASSERT_NE(comm, nullptr) << "no track for comm stream " << work.comm_stream_id;
  const auto nccl = std::find_if(comm->spans.begin(), comm->spans.end(),
                                 [&](const Span& s) { return trace.name_of(s).starts_with("ncclDevKernel_"); });
  ASSERT_NE(nccl, comm->spans.end()) << "no ncclDevKernel_* on the comm stream";
  EXPECT_EQ(nccl->category, Category::Dispatch) << "NCCL launched inside the " << gputest::kDispatchRangeName << " range";
  EXPECT_GE(nccl->start_ns, before);

  // Launch flows from host API calls to the kernels, and the NVTX range on an annotation track.
  std::size_t launches = 0;
  for (const Flow& f : trace.flows) launches += f.kind == FlowKind::Launch;
  EXPECT_GE(launches, std::size_t(work.compute_launches + 1));
  bool range_seen = false;
  for (const Track& tr : trace.tracks) {
    for (const Span& s : tr.spans) range_seen |= trace.name_of(s) == gputest::kDispatchRangeName;
  }
  EXPECT_TRUE(range_seen);
}

}  // namespace
}  // namespace scmoe::prof::capture
