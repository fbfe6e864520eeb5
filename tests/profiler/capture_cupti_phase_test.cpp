// The engine's emulated link on a GPU, as CUPTI reports it: the delay kernel that holds the comm stream for
// the modelled transfer time is communication of the phase of the NVTX range that launched it. Built from
// synthetic CUPTI records (no GPU needed); the numbers are derived by hand below.
#include <gtest/gtest.h>

#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/capture/cupti_capture.h"

namespace scmoe::prof::capture {
namespace {

using Kind = CuptiDeviceActivity::Kind;

// How nvcc mangles engine/src/cuda/delay_kernel.cu's kernel (demangles to
// scmoe::engine::cuda::(anonymous namespace)::delay_kernel(unsigned long long)).
constexpr const char* kDelayKernel = "_ZN5scmoe6engine4cuda12_GLOBAL__N_112delay_kernelEy";
constexpr const char* kGemm = "_Z6matmulPKfS0_Pfi";
constexpr const char* kSendRecv = "_Z22ncclDevKernel_SendRecv24ncclDevKernelArgsStorageILm4096EE";

// One MoE layer as the engine launches it on thread 11 (NVTX ranges are launch-time, host clock = CUPTI
// clock here): gate, dispatch, expert, combine. The compute stream (7) runs the gate [100, 200] and the
// expert [500, 700]; the comm stream (20) runs each exchange as the 1-rank NCCL send/recv followed by the
// delay kernel: dispatch [200, 210] + [210, 500], combine [700, 710] + [710, 900].
// With `shared_expert`, ScMoE's shared expert runs on the compute stream during the dispatch: [210, 450].
CuptiCapture one_layer(bool shared_expert) {
  CuptiCapture c;
  c.markers = {{"scmoe:gate", "scmoe", 0, 10, 11},
               {"scmoe:dispatch", "scmoe", 10, 20, 11},
               {"scmoe:expert", "scmoe", 20, 30, 11},
               {"scmoe:combine", "scmoe", 30, 40, 11},
               {"scmoe:shared_expert", "scmoe", 40, 50, 11}};
  c.api = {{"cudaLaunchKernel", 2, 4, 11, 1, false},  {"cuLaunchKernelEx", 12, 13, 11, 2, true},
           {"cudaLaunchKernel", 14, 16, 11, 3, false}, {"cudaLaunchKernel", 22, 24, 11, 4, false},
           {"cuLaunchKernelEx", 32, 33, 11, 5, true},  {"cudaLaunchKernel", 34, 36, 11, 6, false},
           {"cudaLaunchKernel", 42, 44, 11, 7, false}};
  c.device = {{Kind::Kernel, kGemm, 100, 200, 0, 7, 1, 0},          // gate
              {Kind::Kernel, kSendRecv, 200, 210, 0, 20, 2, 0},     // dispatch: NCCL
              {Kind::Kernel, kDelayKernel, 210, 500, 0, 20, 3, 0},  // dispatch: emulated link time
              {Kind::Kernel, kGemm, 500, 700, 0, 7, 4, 0},          // expert
              {Kind::Kernel, kSendRecv, 700, 710, 0, 20, 5, 0},     // combine: NCCL
              {Kind::Kernel, kDelayKernel, 710, 900, 0, 20, 6, 0}}; // combine: emulated link time
  if (shared_expert) c.device.push_back({Kind::Kernel, kGemm, 210, 450, 0, 7, 7, 0});
  return c;
}

// The whole-trace overlap of one layer's capture against numbers derived by hand (ns).
struct Expected {
  std::int64_t dispatch, dispatch_hidden, combine, combine_hidden, compute;
  double percent;
};
void expect_overlap(const CuptiCapture& c, const Expected& want) {
  Trace t;
  append_cupti_capture(c, ClassificationRules(), /*rank=*/0, t);
  const analysis::OverlapReport report = analysis::analyze_overlap(t);
  ASSERT_EQ(report.whole_trace.size(), 1u);
  const analysis::OverlapRow& row = report.whole_trace[0];
  EXPECT_EQ(row.dispatch.comm_ns, want.dispatch);
  EXPECT_EQ(row.dispatch.overlapped_ns, want.dispatch_hidden);
  EXPECT_EQ(row.combine.comm_ns, want.combine);
  EXPECT_EQ(row.combine.overlapped_ns, want.combine_hidden);
  EXPECT_EQ(row.other_comm.comm_ns, 0) << "every transfer has its phase";
  EXPECT_EQ(row.total.compute_ns, want.compute);
  EXPECT_EQ(row.total.overlapped_ns, want.dispatch_hidden + want.combine_hidden);
  EXPECT_EQ(row.total.exposed_ns, want.dispatch + want.combine - want.dispatch_hidden - want.combine_hidden);
  EXPECT_DOUBLE_EQ(row.total.overlap_percent(), want.percent);
}

TEST(CuptiPhase, DelayKernelIsCommunicationOfItsNvtxPhase) {
  Trace t;
  append_cupti_capture(one_layer(false), ClassificationRules(), 0, t);
  int delays = 0;
  for (const Track& track : t.tracks) {
    for (const Span& s : track.spans) {
      if (t.name_of(s) != "scmoe::engine::cuda::(anonymous namespace)::delay_kernel(unsigned long long)") continue;
      ++delays;
      EXPECT_EQ(s.category, s.start_ns == 210 ? Category::Dispatch : Category::Combine) << s.start_ns;
    }
  }
  EXPECT_EQ(delays, 2);
}

TEST(CuptiPhase, Top2LayerHasNoOverlap) {
  // comm: dispatch [200, 500] = 300 ns, combine [700, 900] = 200 ns; compute: [100, 200] + [500, 700] =
  // 300 ns. They only touch: overlapped 0, exposed 500, overlap 0 %. (Were the delay kernel computation,
  // comm would be the two 10 ns NCCL kernels alone.)
  expect_overlap(one_layer(false), {300, 0, 200, 0, 300, 0.0});
}

TEST(CuptiPhase, SharedExpertHidesTheDispatch) {
  // The shared expert [210, 450] runs under the dispatch [200, 500]: 240 of its 300 ns are hidden. Compute
  // is now [100, 200] + [210, 450] + [500, 700] = 540 ns; the combine stays exposed (200 ns).
  // Total: overlapped 240 of 500 -> 48 %.
  expect_overlap(one_layer(true), {300, 240, 200, 0, 540, 48.0});
}

}  // namespace
}  // namespace scmoe::prof::capture
