// Analysis speed on a generated 10-million-span trace: 8 ranks, each with two compute streams and one
// communication stream, 20 iterations of MoE-like layers (attention, gate, experts on the compute
// streams; dispatch / combine on the comm stream, partly overlapping the compute).
//
// Reported: whole-trace overlap (the issue's goal: < 1 s on one core), per-iteration overlap, the
// per-op breakdown, and - as the ratio measured in the same run - a baseline that does what a naive
// tool does: put every span's start/end event of a rank into one array, sort it, and sweep counters.
//
// Also: classification throughput of the default rules on distinct kernel names (no cache), RE2 (what the
// profiler uses) against the same kernel rules run the old way, one std::regex search per rule in order.
//
// Run: build/<dir>/bench/scmoe_analysis_bench --benchmark_min_time=1x   (single-threaded throughout)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <regex>

#include "scmoe/profiler/analysis/breakdown.h"
#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/capture/host_collector.h"
#include "scmoe/profiler/classify.h"

namespace {

using namespace scmoe::prof;

constexpr int kRanks = 8;
constexpr int kIterations = 20;
constexpr std::size_t kTargetSpans = 10'000'000;

const Trace& big_trace() {
  static const Trace trace = [] {
    Trace t;
    std::mt19937_64 rng(2024);
    std::uniform_int_distribution<int> jitter(0, 400);
    const std::uint32_t names[] = {t.strings.intern("attention"), t.strings.intern("gate"), t.strings.intern("expert_gemm"),
                                   t.strings.intern("dispatch_a2a"), t.strings.intern("combine_a2a")};
    const std::size_t per_rank_layers = kTargetSpans / kRanks / 5;  // 5 spans per layer step
    for (int r = 0; r < kRanks; ++r) {
      TrackInfo s0, s1, comm;
      s0.rank = s1.rank = comm.rank = r;
      s0.device_kind = s1.device_kind = comm.device_kind = DeviceKind::Gpu;
      s0.kind = s1.kind = comm.kind = TrackKind::CudaStream;
      s0.native_id = 7, s1.native_id = 8, comm.native_id = 20;
      const auto t0 = t.track_for(s0), t1 = t.track_for(s1), tc = t.track_for(comm);
      std::int64_t clock = 0;
      for (std::size_t l = 0; l < per_rank_layers; ++l) {
        const std::int32_t iteration = std::int32_t(l * kIterations / per_rank_layers);
        auto add = [&](std::uint32_t track, std::int64_t start, std::int64_t len, int name, Category c) {
          Span s;
          s.start_ns = start, s.end_ns = start + len, s.name = names[name], s.category = c, s.iteration = iteration;
          t.tracks[track].spans.push_back(s);
        };
        const std::int64_t attn = 2000 + jitter(rng), gate = 300 + jitter(rng), expert = 3000 + jitter(rng);
        add(t0, clock, attn, 0, Category::Attention);
        add(t0, clock + attn, gate, 1, Category::Gate);
        add(tc, clock + attn + gate, 1500 + jitter(rng), 3, Category::Dispatch);  // overlaps the shared expert
        add(t1, clock + attn + gate + 100, expert, 2, Category::Expert);
        add(tc, clock + attn + gate + expert + 200, 1200 + jitter(rng), 4, Category::Combine);
        clock += attn + gate + expert + 1000;
      }
    }
    t.finalize();
    return t;
  }();
  return trace;
}

void BM_WholeTraceOverlap(benchmark::State& state) {
  const Trace& t = big_trace();
  analysis::OverlapOptions options;
  options.per_iteration = false;
  for (auto _ : state) benchmark::DoNotOptimize(analysis::analyze_overlap(t, options));
  state.counters["spans"] = double(t.span_count());
  state.counters["spans/s"] = benchmark::Counter(double(t.span_count()), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_PerIterationOverlap(benchmark::State& state) {
  const Trace& t = big_trace();
  for (auto _ : state) benchmark::DoNotOptimize(analysis::analyze_overlap(t));
  state.counters["spans/s"] = benchmark::Counter(double(t.span_count()), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Breakdown(benchmark::State& state) {
  const Trace& t = big_trace();
  for (auto _ : state) benchmark::DoNotOptimize(analysis::breakdown(t));
  state.counters["spans/s"] = benchmark::Counter(double(t.span_count()), benchmark::Counter::kIsIterationInvariantRate);
}

// Baseline: sort all (time, +-1, is_comm) events of a rank and sweep two counters. Same numbers, the
// way a tool without per-track sorted unions computes them.
void BM_BaselineSortSweepOverlap(benchmark::State& state) {
  const Trace& t = big_trace();
  struct Event {
    std::int64_t time;
    std::int8_t delta;
    bool comm;
  };
  for (auto _ : state) {
    std::int64_t overlapped_total = 0, comm_total = 0;
    for (int r = 0; r < kRanks; ++r) {
      std::vector<Event> events;
      for (const Track& tr : t.tracks) {
        if (tr.info.rank != r) continue;
        for (const Span& s : tr.spans) {
          const bool comm = is_communication(s.category);
          if (!comm && !is_computation(s.category)) continue;
          events.push_back({s.start_ns, +1, comm});
          events.push_back({s.end_ns, -1, comm});
        }
      }
      std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
      int comm_open = 0, compute_open = 0;
      std::int64_t last = 0;
      for (const Event& e : events) {
        if (comm_open > 0) comm_total += e.time - last;
        if (comm_open > 0 && compute_open > 0) overlapped_total += e.time - last;
        (e.comm ? comm_open : compute_open) += e.delta;
        last = e.time;
      }
    }
    benchmark::DoNotOptimize(overlapped_total);
    benchmark::DoNotOptimize(comm_total);
  }
}

// Host collector hot path: one RAII span (two steady_clock reads + a push into the thread's buffer).
// The collector is drained every 2^20 spans outside the timed region so memory stays bounded.
void BM_HostSpan(benchmark::State& state) {
  static capture::HostCollector collector;
  static const capture::HostTrackId track = collector.track(0, TrackKind::ComputeLane, "compute");
  static const capture::HostNameId name = collector.intern("op");
  std::size_t n = 0;
  for (auto _ : state) {
    capture::HostSpan span(collector, track, name, Category::Expert, 1, 2);
    if ((++n & ((1u << 20) - 1)) == 0 && state.thread_index() == 0) {
      state.PauseTiming();
      benchmark::DoNotOptimize(collector.collect());
      state.ResumeTiming();
    }
  }
}

// Baseline: the same span into one vector behind one global mutex (what "no global lock" avoids).
void BM_GlobalLockSpan(benchmark::State& state) {
  static std::mutex mutex;
  static std::vector<Span> spans;
  for (auto _ : state) {
    Span s;
    s.start_ns = capture::HostCollector::now_ns();
    s.category = Category::Expert;
    s.end_ns = capture::HostCollector::now_ns();
    std::lock_guard lock(mutex);
    spans.push_back(s);
    if (spans.size() >= (1u << 20)) spans.clear();
  }
}

// 20,000 distinct kernel names as real traces have them: mostly computation (ATen, CUTLASS / cuBLAS with
// long template names, Triton), some NCCL and DeepEP, numbered so that none repeats.
const std::vector<std::string>& kernel_names() {
  static const std::vector<std::string> names = [] {
    const char* shapes[] = {
        "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, "
        "at::detail::Array<char*, 3> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3>)#",
        "void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8>"
        "(cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8::Params)#",
        "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_"
        "kernel__5x_cublas#",
        "triton_poi_fused__to_copy_add_mul_native_layer_norm_#",
        "void at::native::(anonymous namespace)::cunn_SoftMaxForward<4, float, float, float, "
        "at::native::(anonymous namespace)::SoftMaxForwardEpilogue>(float*, float const*, int)#",
        "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)#",
        "void deep_ep::intranode::dispatch<8, 768, 6144>(int4*, float*, int*, int*, int, int)#",
        "void flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, cutlass::bfloat16_t>, "
        "false, true, false, false, true, true, false, false>(flash::Flash_fwd_params)#",
    };
    std::vector<std::string> out;
    for (int i = 0; i < 20000; ++i) out.push_back(shapes[i % 8] + std::to_string(i));
    return out;
  }();
  return names;
}

void BM_ClassifyRe2(benchmark::State& state) {
  const ClassificationRules& rules = ClassificationRules::defaults();
  const StringTable strings;
  std::size_t comm = 0;
  for (auto _ : state) {
    for (const std::string& name : kernel_names()) {
      const auto c = rules.classify(name, {}, strings, /*on_device=*/true);
      comm += c && is_communication(*c);
    }
  }
  benchmark::DoNotOptimize(comm);
  state.counters["names/s"] =
      benchmark::Counter(double(kernel_names().size()), benchmark::Counter::kIsIterationInvariantRate);
}

// Baseline: the same kernel rules, compiled with std::regex (ECMAScript), searched one by one in order
// until the first match, as classify.cpp did before RE2 (arg conditions and scopes checked the same way).
void BM_ClassifyStdRegex(benchmark::State& state) {
  const ClassificationRules& rules = ClassificationRules::defaults();
  std::vector<std::regex> compiled;
  for (const ClassificationRule& r : rules.rules()) {
    compiled.emplace_back(r.name_regex, std::regex::ECMAScript | std::regex::optimize);
  }
  std::size_t comm = 0;
  for (auto _ : state) {
    for (const std::string& name : kernel_names()) {
      for (std::size_t i = 0; i < compiled.size(); ++i) {
        const ClassificationRule& r = rules.rules()[i];
        if (r.scope == RuleScope::Host || !r.arg_key.empty()) continue;
        if (!std::regex_search(name, compiled[i])) continue;
        comm += is_communication(r.category);
        break;
      }
    }
  }
  benchmark::DoNotOptimize(comm);
  state.counters["names/s"] =
      benchmark::Counter(double(kernel_names().size()), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_ClassifyRe2)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ClassifyStdRegex)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_HostSpan)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_GlobalLockSpan)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_WholeTraceOverlap)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_PerIterationOverlap)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Breakdown)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_BaselineSortSweepOverlap)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
