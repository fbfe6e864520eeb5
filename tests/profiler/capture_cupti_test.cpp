// CUPTI capture -> trace, on hand-made records (no GPU needed): clock domain, demangling, classification,
// NCCL phase attribution through NVTX ranges, launch flows, dropped counts; the engine's emulated link (its
// delay kernel is communication of the phase of the NVTX range that launched it, with the overlap derived
// by hand); and the module loader.
#include <gtest/gtest.h>

#include <algorithm>

#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/capture/cupti_collector.h"

namespace scmoe::prof::capture {
namespace {

using Kind = CuptiDeviceActivity::Kind;

// Names as CUPTI reports them (mangled); the demangled forms were produced with c++filt.
constexpr const char* kNcclMangled = "_Z22ncclDevKernel_SendRecv24ncclDevKernelArgsStorageILm4096EE";
constexpr const char* kNcclDemangled = "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)";
constexpr const char* kMatmulMangled = "_Z6matmulPKfS0_Pfi";
constexpr const char* kMatmulDemangled = "matmul(float const*, float const*, float*, int)";

const Span* find_span(const Trace& t, std::string_view name, std::int64_t start, std::uint32_t* track = nullptr) {
  for (std::uint32_t ti = 0; ti < t.tracks.size(); ++ti) {
    for (const Span& s : t.tracks[ti].spans) {
      if (t.name_of(s) == name && s.start_ns == start) {
        if (track) *track = ti;
        return &s;
      }
    }
  }
  return nullptr;
}

TEST(CuptiCapture, BuildsTracksFlowsAndAttributesNcclPhases) {
  CuptiCapture c;
  c.clock_offset_ns = -1000;  // host = cupti - 1000
  // Thread 11: "layer" range [100, 900] containing "scmoe:dispatch" [200, 300] and "combine" [500, 600].
  c.markers = {{"layer", "", 100, 900, 11}, {"scmoe:dispatch", "", 200, 300, 11}, {"combine", "", 500, 600, 11}};
  c.api = {{"cudaLaunchKernel", 150, 160, 11, 1, false},   // matmul, outside any phase
           {"cuLaunchKernelEx", 250, 260, 11, 2, true},     // NCCL inside dispatch
           {"cuLaunchKernelEx", 550, 560, 11, 3, true},     // NCCL inside combine (and layer)
           {"cuLaunchKernelEx", 950, 960, 12, 4, true},     // NCCL outside every range (other thread)
           {"cudaMemcpyAsync", 970, 980, 12, 5, false},
           {"cudaStreamSynchronize", 990, 2000, 12, 6, false},
           {"cuLaunchKernel", 152, 158, 11, 1, true},  // the driver call inside cudaLaunchKernel
           {"cuLaunchKernelEx", 905, 910, 11, 7, true}};  // NCCL after every range of thread 11 closed
  c.device = {{Kind::Kernel, kMatmulMangled, 1200, 1700, 0, 7, 1, 0},
              {Kind::Kernel, kNcclMangled, 1300, 1500, 0, 20, 2, 0},
              {Kind::Kernel, kNcclMangled, 1800, 1900, 0, 20, 3, 0},
              {Kind::Kernel, kNcclMangled, 1950, 1990, 0, 20, 4, 0},
              {Kind::Memcpy, "Memcpy HtoD", 1000, 1100, 0, 7, 5, 4096},
              {Kind::Kernel, kNcclMangled, 2000, 2050, 0, 20, 7, 0}};
  c.sync = {{"stream synchronize", 1000, 1990, 6, 20}, {"orphan wait", 5, 6, 999, 20}};
  c.dropped_records = 3;

  Trace t;
  t.dropped_records = 2;
  append_cupti_capture(c, ClassificationRules(), /*rank=*/1, t);
  EXPECT_EQ(t.dropped_records, 5u);
  ASSERT_EQ(t.ranks.size(), 1u);
  EXPECT_EQ(t.ranks[0].rank, 1);
  for (const Track& tr : t.tracks) EXPECT_EQ(tr.info.rank, 1);

  std::uint32_t matmul_track = 0, nccl_track = 0;
  const Span* matmul = find_span(t, kMatmulDemangled, 200, &matmul_track);
  ASSERT_NE(matmul, nullptr) << "kernel demangled and shifted into the host clock";
  EXPECT_EQ(matmul->end_ns, 700);
  EXPECT_TRUE(is_computation(matmul->category));
  EXPECT_EQ(t.tracks[matmul_track].info.kind, TrackKind::CudaStream);
  EXPECT_EQ(t.tracks[matmul_track].info.native_id, 7);
  EXPECT_EQ(t.tracks[matmul_track].info.device_kind, DeviceKind::Gpu);

  const Span* dispatch = find_span(t, kNcclDemangled, 300, &nccl_track);
  ASSERT_NE(dispatch, nullptr);
  EXPECT_EQ(t.tracks[nccl_track].info.native_id, 20);
  EXPECT_EQ(dispatch->category, Category::Dispatch);
  EXPECT_EQ(find_span(t, kNcclDemangled, 800)->category, Category::Combine) << "innermost range wins";
  EXPECT_EQ(find_span(t, kNcclDemangled, 950)->category, Category::OtherComm) << "no phase range: NCCL preset";
  EXPECT_EQ(find_span(t, kNcclDemangled, 1000)->category, Category::OtherComm) << "launched after the ranges closed";

  const Span* copy = find_span(t, "Memcpy HtoD", 0);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->category, Category::Memcpy);
  ASSERT_NE(copy->args, kNoArgs);
  EXPECT_EQ(t.args[copy->args][0].value(), "4096");

  // Host tracks: API calls on per-thread tracks, the wait nested in its call; the orphan wait is dropped.
  std::uint32_t sync_track = 0;
  const Span* wait = find_span(t, "stream synchronize", 0, &sync_track);
  ASSERT_NE(wait, nullptr);
  EXPECT_EQ(wait->depth, 1);
  EXPECT_EQ(t.tracks[sync_track].info.kind, TrackKind::HostThread);
  EXPECT_EQ(t.tracks[sync_track].info.native_id, 12);
  EXPECT_EQ(find_span(t, "orphan wait", -995), nullptr);
  EXPECT_EQ(find_span(t, "cuLaunchKernel", -848)->depth, 1) << "driver call nested in its runtime call";
  EXPECT_EQ(find_span(t, "cuLaunchKernelEx", -750)->depth, 0) << "NCCL's direct driver launch is top level";
  std::uint32_t nvtx_track = 0;
  const Span* nvtx = find_span(t, "scmoe:dispatch", -800, &nvtx_track);
  ASSERT_NE(nvtx, nullptr);
  EXPECT_EQ(t.tracks[nvtx_track].info.kind, TrackKind::Annotation);

  // One launch flow per kernel/copy, from its API call to it (flows survive finalize's re-sorting).
  ASSERT_EQ(t.flows.size(), 6u);
  for (const Flow& f : t.flows) {
    EXPECT_EQ(f.kind, FlowKind::Launch);
    const Span& from = t.tracks[f.from.track].spans[f.from.span];
    const Span& to = t.tracks[f.to.track].spans[f.to.span];
    EXPECT_EQ(t.tracks[f.from.track].info.kind, TrackKind::HostThread);
    EXPECT_EQ(from.depth, 0) << "launch flows start at the outermost API call";
    EXPECT_EQ(t.tracks[f.to.track].info.kind, TrackKind::CudaStream);
    EXPECT_LT(from.start_ns, to.start_ns) << t.name_of(from) << " -> " << t.name_of(to);
  }
  // Spans of each track sorted by start.
  for (const Track& tr : t.tracks) {
    EXPECT_TRUE(std::is_sorted(tr.spans.begin(), tr.spans.end(),
                               [](const Span& a, const Span& b) { return a.start_ns < b.start_ns; }));
  }
}

// How nvcc mangles engine/src/cuda/delay_kernel.cu's kernel (demangles to
// scmoe::engine::cuda::(anonymous namespace)::delay_kernel(unsigned long long)).
constexpr const char* kDelayKernel = "_ZN5scmoe6engine4cuda12_GLOBAL__N_112delay_kernelEy";

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
  c.device = {{Kind::Kernel, kMatmulMangled, 100, 200, 0, 7, 1, 0},          // gate
              {Kind::Kernel, kNcclMangled, 200, 210, 0, 20, 2, 0},     // dispatch: NCCL
              {Kind::Kernel, kDelayKernel, 210, 500, 0, 20, 3, 0},  // dispatch: emulated link time
              {Kind::Kernel, kMatmulMangled, 500, 700, 0, 7, 4, 0},          // expert
              {Kind::Kernel, kNcclMangled, 700, 710, 0, 20, 5, 0},     // combine: NCCL
              {Kind::Kernel, kDelayKernel, 710, 900, 0, 20, 6, 0}}; // combine: emulated link time
  if (shared_expert) c.device.push_back({Kind::Kernel, kMatmulMangled, 210, 450, 0, 7, 7, 0});
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

TEST(CuptiCapture, DemangleLeavesPlainNamesAlone) {
  EXPECT_EQ(demangle(kMatmulMangled), kMatmulDemangled);
  EXPECT_EQ(demangle("ncclKernel_AllReduce_RING_LL_Sum_float"), "ncclKernel_AllReduce_RING_LL_Sum_float");
  EXPECT_EQ(demangle(""), "");
}

TEST(CuptiCollector, MissingModuleIsAClearError) {
  CuptiCollector::Options options;
  options.module_path = "/nonexistent/libscmoe_cupti.so";
  std::string error;
  EXPECT_EQ(CuptiCollector::load(options, error), nullptr);
  EXPECT_EQ(error.rfind("CUPTI not available: ", 0), 0u) << error;
  EXPECT_NE(error.find("/nonexistent/libscmoe_cupti.so"), std::string::npos) << error;

  options.module_path = SCMOE_SOURCE_DIR "/CMakeLists.txt";  // exists, but is no shared object
  EXPECT_EQ(CuptiCollector::load(options, error), nullptr);
  EXPECT_EQ(error.rfind("CUPTI not available: ", 0), 0u) << error;
}

#ifdef SCMOE_CUPTI_MODULE_PATH
TEST(CuptiCollector, BuiltModuleLoads) {
  CuptiCollector::Options options;
  options.module_path = SCMOE_CUPTI_MODULE_PATH;
  std::string error;
  const auto collector = CuptiCollector::load(options, error);
  ASSERT_NE(collector, nullptr) << error;
  EXPECT_EQ(collector->module_path(), SCMOE_CUPTI_MODULE_PATH);

  // Starting works where a device is present; elsewhere it fails with a message, never a crash.
  if (collector->start(error)) {
    Trace trace;
    EXPECT_TRUE(collector->stop_into(trace, error)) << error;
  } else {
    EXPECT_NE(error.find("cupti"), std::string::npos) << error;
  }

  // A bad buffer size is refused before CUPTI is touched, naming the field and the value.
  options.buffer_bytes = 1000;
  const auto small = CuptiCollector::load(options, error);
  ASSERT_NE(small, nullptr) << error;
  EXPECT_FALSE(small->start(error));
  EXPECT_NE(error.find("buffer_bytes"), std::string::npos) << error;
  EXPECT_NE(error.find("got 1000"), std::string::npos) << error;
}
#endif

}  // namespace
}  // namespace scmoe::prof::capture
