// apply_phase_annotations on hand-built traces: GPU annotation ranges, CPU annotations reached through
// launch flows and through correlation args, nesting, the policy, pass flags and layers.
#include <gtest/gtest.h>

#include "scmoe/profiler/classify.h"

namespace scmoe::prof {
namespace {

// A trace of one rank: a host thread (id 5) with its annotation track, one CUDA stream and a GPU
// annotation track of device 0.
struct Builder {
  Trace t;
  std::uint32_t thread = t.track_for({0, 0, DeviceKind::Cpu, TrackKind::HostThread, 5, "thread 5"});
  std::uint32_t cpu_notes = t.track_for({0, 0, DeviceKind::Cpu, TrackKind::Annotation, 5, "thread 5 annotations"});
  std::uint32_t stream = t.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 7, "stream 7"});
  std::uint32_t gpu_notes = t.track_for({0, 0, DeviceKind::Gpu, TrackKind::Annotation, 7, "stream 7 annotations"});

  SpanRef add(std::uint32_t track, std::int64_t a, std::int64_t b, std::string_view name, Category c = Category::Other,
              std::vector<std::pair<std::string, std::string>> args = {}) {
    Span s;
    s.start_ns = a;
    s.end_ns = b;
    s.name = t.strings.intern(name);
    s.category = c;
    std::vector<Arg> list;
    for (const auto& [k, v] : args) list.emplace_back(t.strings.intern(k), v);
    if (!list.empty()) s.args = t.add_args(list);
    t.tracks[track].spans.push_back(s);
    return {track, static_cast<std::uint32_t>(t.tracks[track].spans.size() - 1)};
  }
  // A launch call at [a, a+5] on the host thread and its kernel at [k0, k1], linked by a launch flow.
  void launch(std::int64_t a, std::int64_t k0, std::int64_t k1, std::string_view kernel, Category c) {
    const SpanRef call = add(thread, a, a + 5, "cudaLaunchKernel");
    const SpanRef k = add(stream, k0, k1, kernel, c);
    t.flows.push_back({call, k, FlowKind::Launch});
  }
  const Span& kernel_at(std::int64_t start) const {
    for (const Span& s : t.tracks[stream].spans) {
      if (s.start_ns == start) return s;
    }
    throw std::runtime_error("no kernel at " + std::to_string(start));
  }
};

TEST(ApplyPhaseAnnotations, SendRecvInsideGpuDispatchRangeBecomesDispatch) {
  Trace t;
  const auto comm = t.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 40, "stream 40"});
  const auto notes = t.track_for({0, 0, DeviceKind::Gpu, TrackKind::Annotation, 40, "stream 40 annotations"});
  const auto other_gpu = t.track_for({0, 1, DeviceKind::Gpu, TrackKind::CudaStream, 40, "stream 40"});
  const auto k = t.strings.intern("ncclDevKernel_SendRecv");
  auto add = [&](std::uint32_t track, std::int64_t a, std::int64_t b, std::uint32_t name, Category c) {
    Span s;
    s.start_ns = a;
    s.end_ns = b;
    s.name = name;
    s.category = c;
    t.tracks[track].spans.push_back(s);
  };
  add(notes, 0, 1000, t.strings.intern("dispatch"), Category::Dispatch);
  add(notes, 5000, 9000, t.strings.intern("combine"), Category::Combine);
  add(notes, 5100, 5200, t.strings.intern("inner label"), Category::Other);
  add(comm, 100, 900, k, Category::OtherComm);      // inside dispatch
  add(comm, 2000, 3000, k, Category::OtherComm);    // outside every range
  add(comm, 5150, 8000, k, Category::OtherComm);    // inside combine (the inner label is not a phase)
  add(comm, 6000, 7000, k, Category::Expert);       // not communication: untouched (HTA's policy)
  add(other_gpu, 100, 900, k, Category::OtherComm); // another device: untouched
  t.finalize();
  EXPECT_EQ(apply_phase_annotations(t), 2u);
  EXPECT_EQ(t.tracks[comm].spans[0].category, Category::Dispatch);
  EXPECT_EQ(t.tracks[comm].spans[1].category, Category::OtherComm);
  EXPECT_EQ(t.tracks[comm].spans[2].category, Category::Combine);
  EXPECT_EQ(t.tracks[comm].spans[3].category, Category::Expert);
  EXPECT_EQ(t.tracks[other_gpu].spans[0].category, Category::OtherComm);
}

TEST(ApplyPhaseAnnotations, CpuAnnotationsReachKernelsThroughLaunchFlows) {
  Builder b;
  // Forward: "MoE dispatch (F)" [0, 100] on the annotation track; backward: a record_function on the
  // host thread itself, "layer_3 combine (B)" [200, 300], around an all-to-all op [210, 260].
  b.add(b.cpu_notes, 0, 100, "MoE dispatch (F)");
  b.add(b.thread, 200, 300, "layer_3 combine (B)");
  b.add(b.thread, 210, 260, "c10d::alltoall_base_", Category::OtherComm);
  b.launch(10, 1000, 1100, "ncclDevKernel_SendRecv", Category::OtherComm);   // in dispatch (F)
  b.launch(20, 1100, 1150, "triton_poi_fused_cast_0", Category::Other);      // a cast inside dispatch
  b.launch(220, 2000, 2100, "ncclDevKernel_SendRecv", Category::OtherComm);  // all-to-all in combine (B)
  b.launch(400, 3000, 3100, "ncclDevKernel_SendRecv", Category::OtherComm);  // outside every annotation
  b.t.finalize();
  EXPECT_EQ(apply_phase_annotations(b.t), 2u);

  const Span& dispatch = b.kernel_at(1000);
  EXPECT_EQ(dispatch.category, Category::Dispatch);
  EXPECT_EQ(pass_of(dispatch), AnnotatedPass::Forward);
  const Span& cast = b.kernel_at(1100);
  EXPECT_EQ(cast.category, Category::Other) << "HTA's definition: computation inside dispatch stays computation";
  EXPECT_EQ(pass_of(cast), AnnotatedPass::Forward) << "but it takes the pass";
  const Span& combine = b.kernel_at(2000);
  EXPECT_EQ(combine.category, Category::Combine) << "the bare all-to-all takes the outer annotation's phase";
  EXPECT_EQ(pass_of(combine), AnnotatedPass::Backward);
  EXPECT_EQ(combine.layer, 3);
  const Span& outside = b.kernel_at(3000);
  EXPECT_EQ(outside.category, Category::OtherComm);
  EXPECT_EQ(pass_of(outside), AnnotatedPass::Unset);
  EXPECT_EQ(outside.layer, kNoIndex);
}

TEST(ApplyPhaseAnnotations, ThePolicyCanCountComputationInsideDispatchAsCommunication) {
  Builder b;
  b.add(b.cpu_notes, 0, 100, "dispatch");
  b.add(b.cpu_notes, 200, 300, "nccl:all_to_all");
  b.launch(10, 1000, 1100, "permute_kernel", Category::Other);
  b.launch(210, 2000, 2100, "custom_copy", Category::Other);
  b.launch(500, 3000, 3100, "gemm", Category::Other);
  b.t.finalize();
  ClassificationRules rules;
  rules.set_policy({AnnotatedCompute::Communication});
  EXPECT_EQ(apply_phase_annotations(b.t, rules), 2u);
  EXPECT_EQ(b.kernel_at(1000).category, Category::Dispatch);
  EXPECT_EQ(b.kernel_at(2000).category, Category::OtherComm) << "communication of no named phase";
  EXPECT_EQ(b.kernel_at(3000).category, Category::Other);
}

TEST(ApplyPhaseAnnotations, CorrelationArgsStandInForMissingFlows) {
  // trace_filter-style Kineto files have no ac2g flows: the kernel and its runtime call share a
  // "correlation" arg.
  Builder b;
  b.add(b.cpu_notes, 0, 100, "combine");
  b.add(b.thread, 10, 15, "cudaLaunchKernel", Category::Other, {{"correlation", "77"}});
  b.add(b.thread, 150, 155, "cudaLaunchKernel", Category::Other, {{"correlation", "78"}});
  b.add(b.stream, 1000, 1100, "ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t", Category::OtherComm, {{"correlation", "77"}});
  b.add(b.stream, 1200, 1300, "ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t", Category::OtherComm, {{"correlation", "78"}});
  b.add(b.stream, 1400, 1500, "ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t", Category::OtherComm, {{"correlation", "99"}});
  b.t.finalize();
  EXPECT_EQ(apply_phase_annotations(b.t), 1u);
  EXPECT_EQ(b.kernel_at(1000).category, Category::Combine);
  EXPECT_EQ(b.kernel_at(1200).category, Category::OtherComm) << "launched outside the annotation";
  EXPECT_EQ(b.kernel_at(1400).category, Category::OtherComm) << "no runtime call with that correlation";
}

TEST(ApplyPhaseAnnotations, InnermostAnnotationAndGpuSideWin) {
  Builder b;
  // CPU: "dispatch" [0, 100] around "combine" [5, 50]: the inner one names the launch at 10.
  b.add(b.cpu_notes, 0, 100, "dispatch layer_1");
  b.add(b.cpu_notes, 5, 50, "combine");
  b.launch(10, 1000, 1100, "ncclDevKernel_AllToAll", Category::OtherComm);
  // GPU: the kernel at 2000 lies in a gpu_user_annotation "dispatch"; its launch (at 60) is inside the
  // CPU "dispatch layer_1" only... and the GPU side is asked first, so its verdict stands either way.
  b.add(b.gpu_notes, 1900, 2200, "combine (B)");
  b.launch(60, 2000, 2100, "ncclDevKernel_AllToAll", Category::OtherComm);
  b.t.finalize();
  EXPECT_EQ(apply_phase_annotations(b.t), 2u);
  EXPECT_EQ(b.kernel_at(1000).category, Category::Combine);
  EXPECT_EQ(b.kernel_at(1000).layer, 1) << "the outer annotation still gives the layer";
  EXPECT_EQ(b.kernel_at(2000).category, Category::Combine) << "the GPU range beats the launch-side dispatch";
  EXPECT_EQ(pass_of(b.kernel_at(2000)), AnnotatedPass::Backward);
  EXPECT_EQ(b.kernel_at(2000).layer, 1) << "the CPU side still fills in what the GPU side did not say";
}

TEST(ApplyPhaseAnnotations, LongEnclosingSpansCostNothingPerKernel) {
  // A ProfilerStep around 20,000 launches: the sweep keeps the step open once instead of walking back over
  // every earlier span for each kernel.
  Builder b;
  b.add(b.thread, 0, 1'000'000, "ProfilerStep#1");
  b.add(b.cpu_notes, 0, 1'000'000, "dispatch");
  for (int i = 0; i < 20000; ++i) b.launch(10 + 40 * i, 2'000'000 + 40 * i, 2'000'000 + 40 * i + 30, "ncclDevKernel_SendRecv", Category::OtherComm);
  b.t.finalize();
  EXPECT_EQ(apply_phase_annotations(b.t), 20000u);
}

}  // namespace
}  // namespace scmoe::prof
