// Overlap of crafted Kineto-style traces, one per EP library family and one per annotation style, each with
// the numbers derived by hand. Every trace has the same timeline (times in us, as Kineto writes them):
//
//   compute stream 7:  gemm [0, 100]                gemm [150, 300]
//   comm stream 20:         dispatch [50, 200]               combine [250, 400]
//
//   comm      = [50, 200] + [250, 400]           = 300 us
//   compute   = [0, 100] + [150, 300]            = 250 us
//   dispatch ∩ compute = [50, 100] + [150, 200]  = 100 us  (of 150: 66.7 %)
//   combine ∩ compute  = [250, 300]              =  50 us  (of 150: 33.3 %)
//   overlapped = 150 us, exposed = 150 us, overlap = 50 %
//
// The host thread (pid 100, tid 100) launches the dispatch kernel at 10 and the combine kernel at 20; the
// gemms at 1 and 2. Families whose kernels name their phase need no annotation; the others (NCCL, NVSHMEM,
// MSCCL++, UCC, RCCL) get it from a CPU annotation around the launch ("dispatch" [5, 15], "combine"
// [16, 25]), and would be other_comm without one.
#include <gtest/gtest.h>

#include <sstream>

#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/formats/chrome_json_import.h"

namespace scmoe::prof::analysis {
namespace {

constexpr std::int64_t kUs = 1000;

// A Kineto-style document, event by event.
class KinetoDoc {
 public:
  KinetoDoc& kernel(const std::string& name, int stream, double ts, double dur, int correlation) {
    event(R"("ph":"X","cat":"kernel","name":")" + name + R"(","pid":0,"tid":)" + std::to_string(stream) +
          ",\"ts\":" + num(ts) + ",\"dur\":" + num(dur) + R"(,"args":{"device":0,"stream":)" + std::to_string(stream) +
          ",\"correlation\":" + std::to_string(correlation) + "}");
    return *this;
  }
  // The runtime call that launched kernel `correlation`; with `flow`, an ac2g flow links it to the kernel
  // starting at `kernel_ts` on `stream`.
  KinetoDoc& launch(double ts, int correlation, bool flow = false, int stream = 0, double kernel_ts = 0) {
    event(R"("ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":100,"tid":100,"ts":)" + num(ts) +
          R"(,"dur":1,"args":{"correlation":)" + std::to_string(correlation) + "}");
    if (flow) {
      event(R"("ph":"s","cat":"ac2g","name":"ac2g","id":)" + std::to_string(correlation) +
            R"(,"pid":100,"tid":100,"ts":)" + num(ts));
      event(R"("ph":"f","bp":"e","cat":"ac2g","name":"ac2g","id":)" + std::to_string(correlation) +
            R"(,"pid":0,"tid":)" + std::to_string(stream) + ",\"ts\":" + num(kernel_ts));
    }
    return *this;
  }
  // cat: "user_annotation" (record_function), "cpu_op", or "gpu_user_annotation" (on `stream`).
  KinetoDoc& annotation(const std::string& name, double ts, double dur, const std::string& cat = "user_annotation",
                        int stream = 20) {
    const bool gpu = cat == "gpu_user_annotation";
    event(R"("ph":"X","cat":")" + cat + R"(","name":")" + name + R"(","pid":)" + (gpu ? "0" : "100") +
          ",\"tid\":" + (gpu ? std::to_string(stream) : "100") + ",\"ts\":" + num(ts) + ",\"dur\":" + num(dur) +
          (gpu ? ",\"args\":{\"device\":0,\"stream\":" + std::to_string(stream) + "}" : ""));
    return *this;
  }
  // A B/E pair (NVTX ranges and some record_function exports come so).
  KinetoDoc& begin_end(const std::string& name, double ts, double end) {
    event(R"("ph":"B","cat":"user_annotation","name":")" + name + R"(","pid":100,"tid":100,"ts":)" + num(ts));
    event(R"("ph":"E","cat":"user_annotation","name":")" + name + R"(","pid":100,"tid":100,"ts":)" + num(end));
    return *this;
  }
  std::string text() const { return "{\"traceEvents\":[" + events_ + "]}"; }

 private:
  static std::string num(double v) {
    std::ostringstream o;
    o << v;
    return o.str();
  }
  void event(const std::string& body) { events_ += (events_.empty() ? "{" : ",{") + body + "}"; }
  std::string events_;
};

// The common timeline with the given comm kernel names; flows on the launches.
KinetoDoc timeline(const std::string& dispatch, const std::string& combine, bool flows = true) {
  KinetoDoc d;
  d.launch(1, 1, flows, 7, 0).launch(2, 2, flows, 7, 150).launch(10, 3, flows, 20, 50).launch(20, 4, flows, 20, 250);
  d.kernel("gemm_kernel", 7, 0, 100, 1).kernel("gemm_kernel", 7, 150, 150, 2);
  d.kernel(dispatch, 20, 50, 150, 3).kernel(combine, 20, 250, 150, 4);
  return d;
}

Trace import(const KinetoDoc& doc, const ClassificationRules& rules = ClassificationRules()) {
  std::string json = doc.text();
  Trace t;
  const auto result = formats::import_chrome_json(json, "crafted.json", rules, t);
  EXPECT_EQ(result.error, "");
  return t;
}

OverlapRow row_of(const Trace& t) {
  const OverlapReport report = analyze_overlap(t, {TrackSelection::Auto, false});
  EXPECT_EQ(report.whole_trace.size(), 1u);
  return report.whole_trace.empty() ? OverlapRow{} : report.whole_trace[0];
}

// The numbers of the header: dispatch 150 us, 100 hidden; combine 150 us, 50 hidden; 50 % in all.
void expect_split_timeline(const OverlapRow& r, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(r.total.comm_ns, 300 * kUs);
  EXPECT_EQ(r.total.compute_ns, 250 * kUs);
  EXPECT_EQ(r.total.overlapped_ns, 150 * kUs);
  EXPECT_EQ(r.total.exposed_ns, 150 * kUs);
  EXPECT_DOUBLE_EQ(r.total.overlap_percent(), 50.0);
  EXPECT_EQ(r.dispatch.comm_ns, 150 * kUs);
  EXPECT_EQ(r.dispatch.overlapped_ns, 100 * kUs);
  EXPECT_EQ(r.combine.comm_ns, 150 * kUs);
  EXPECT_EQ(r.combine.overlapped_ns, 50 * kUs);
  EXPECT_EQ(r.other_comm.comm_ns, 0);
}

struct Family {
  const char* label;
  const char* dispatch;
  const char* combine;
};

TEST(FamilyTraces, KernelsThatNameTheirPhase) {
  const Family families[] = {
      {"DeepEP", "void deep_ep::intranode::dispatch<8, 768, 6144>(int4*, float*, int*)",
       "void deep_ep::intranode::combine<__nv_bfloat16, 8, 768>(__nv_bfloat16*, float*)"},
      {"DeepEP low latency", "void deep_ep::internode_ll::dispatch<true, 8, 7168>(void*, float*)",
       "void deep_ep::internode_ll::combine<false, 7168>(void*, void*)"},
      {"DeepEP fork, own namespace", "void acme_ep::v3::internode::dispatch<false, 8, 4>(int4*)",
       "void acme_ep::v3::internode::combine<__nv_bfloat16, 8>(int4*)"},
      {"DeepEP v2", "void deep_ep::elastic::dispatch_impl<true, 24, 8>(void*, void*)",
       "void deep_ep::elastic::combine_impl<24, 8>(__nv_bfloat16*)"},
      {"pplx-kernels", "void (anonymous namespace)::dispatchKernel<4ul, true, true>(int*, unsigned long)",
       "void combineKernel<__nv_bfloat16, __nv_bfloat16, 16ul, true, true>(__nv_bfloat16*)"},
      {"Hybrid-EP", "void hybrid_ep::dispatch_kernel<__nv_bfloat16, 16>(hybrid_ep::dispatch_kernel_param_t<__nv_bfloat16>)",
       "void hybrid_ep::combine_kernel<16, true>(hybrid_ep::combine_kernel_param_t)"},
      {"Triton-distributed", "kernel_dispatch_token_intra_node", "kernel_combine_token_intra_node"},
  };
  for (const Family& f : families) expect_split_timeline(row_of(import(timeline(f.dispatch, f.combine))), f.label);
}

TEST(FamilyTraces, TransportsTakeThePhaseOfTheirAnnotation) {
  const Family families[] = {
      {"NCCL 2.19+", "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)", "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)"},
      {"NCCL <= 2.18", "ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclWorkElem)", "ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclWorkElem)"},
      {"RCCL", "ncclDevKernel_Generic(ncclDevComm*, channelMasks, ncclWork*)", "ncclDevKernel_Generic(ncclDevComm*, channelMasks, ncclWork*)"},
      {"NVSHMEM", "void alltoall_on_stream_kernel<float>(int, float*, float const*, unsigned long)",
       "void alltoall_on_stream_kernel<float>(int, float*, float const*, unsigned long)"},
      {"MSCCL++", "void mscclpp::executionKernel<__half, mscclpp::LL16Packet, false>(int, __half*)",
       "void mscclpp::executionKernel<__half, mscclpp::LL16Packet, false>(int, __half*)"},
      {"UCC", "executor_kernel(ucc_ec_cuda_executor*, int)", "executor_kernel(ucc_ec_cuda_executor*, int)"},
  };
  for (const Family& f : families) {
    KinetoDoc annotated = timeline(f.dispatch, f.combine);
    annotated.annotation("dispatch", 5, 10).annotation("combine", 16, 9);
    expect_split_timeline(row_of(import(annotated)), f.label);
    // Without the annotations the same 300 us are communication of no phase.
    const OverlapRow bare = row_of(import(timeline(f.dispatch, f.combine)));
    EXPECT_EQ(bare.other_comm.comm_ns, 300 * kUs) << f.label;
    EXPECT_EQ(bare.total.overlapped_ns, 150 * kUs) << f.label;
  }
}

// One annotation style per test, all on NCCL kernels (other_comm by name).
constexpr const char* kSendRecv = "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)";

TEST(AnnotationStyles, RecordFunctionWithLaunchFlows) {
  KinetoDoc d = timeline(kSendRecv, kSendRecv);
  d.annotation("MoE dispatch (F)", 5, 10).annotation("MoE combine (F)", 16, 9);
  const Trace t = import(d);
  expect_split_timeline(row_of(t), "user_annotation + ac2g");
  for (const Track& track : t.tracks) {
    for (const Span& s : track.spans) {
      if (track.info.kind == TrackKind::CudaStream && is_communication(s.category)) {
        EXPECT_EQ(pass_of(s), AnnotatedPass::Forward);
      }
    }
  }
}

TEST(AnnotationStyles, CorrelationIdsWithoutFlows) {
  KinetoDoc d = timeline(kSendRecv, kSendRecv, /*flows=*/false);
  d.annotation("dispatch", 5, 10).annotation("combine", 16, 9);
  expect_split_timeline(row_of(import(d)), "user_annotation + correlation args");
}

TEST(AnnotationStyles, GpuUserAnnotations) {
  // Kineto's gpu_user_annotation: the annotation's span on the GPU, around the kernels it covers.
  KinetoDoc d = timeline(kSendRecv, kSendRecv, /*flows=*/false);
  d.annotation("dispatch", 50, 150, "gpu_user_annotation").annotation("combine", 250, 150, "gpu_user_annotation");
  expect_split_timeline(row_of(import(d)), "gpu_user_annotation");
}

TEST(AnnotationStyles, NvtxStyleBeginEndRanges) {
  KinetoDoc d = timeline(kSendRecv, kSendRecv);
  d.begin_end("scmoe:dispatch", 5, 15).begin_end("scmoe:combine", 16, 25);
  expect_split_timeline(row_of(import(d)), "B/E ranges");
}

TEST(AnnotationStyles, MegatronTokenDispatcherAroundC10dOps) {
  // Megatron's dispatcher: token_permutation / token_unpermutation host ops, each around the c10d
  // all-to-all (whose own "nccl:all_to_all" names no phase): the outer op decides.
  KinetoDoc d = timeline(kSendRecv, kSendRecv);
  d.annotation("MoEAlltoAllTokenDispatcher.token_permutation", 4, 12, "cpu_op")
      .annotation("c10d::alltoall_base_", 8, 4, "cpu_op")
      .annotation("nccl:all_to_all", 9, 2)
      .annotation("MoEAlltoAllTokenDispatcher.token_unpermutation", 16, 9, "cpu_op")
      .annotation("c10d::alltoall_base_", 18, 4, "cpu_op")
      .annotation("nccl:all_to_all", 19, 2);
  expect_split_timeline(row_of(import(d)), "token_permutation / token_unpermutation");
}

TEST(AnnotationStyles, AutogradBackwardGivesThePass) {
  KinetoDoc d = timeline(kSendRecv, kSendRecv);
  d.annotation("autograd::engine::evaluate_function: _DispatchBackward", 5, 10, "cpu_op")
      .annotation("autograd::engine::evaluate_function: _CombineBackward", 16, 9, "cpu_op");
  const Trace t = import(d);
  expect_split_timeline(row_of(t), "autograd backward");
  int backward = 0;
  for (const Track& track : t.tracks) {
    for (const Span& s : track.spans) backward += track.info.kind == TrackKind::CudaStream && pass_of(s) == AnnotatedPass::Backward;
  }
  EXPECT_EQ(backward, 2);
}

}  // namespace
}  // namespace scmoe::prof::analysis
