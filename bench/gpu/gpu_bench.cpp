// GPU benchmark of issue 6 (not a test): the GPT2-MoE-Medium pair (hidden 1024, FFN 4096, 16 heads, seq 2048,
// 16384 tokens per rank, bf16) with 8 experts, the single GPU playing rank 0 of an 8-rank EP group through the
// emulated link, calibrated so that top-2's dispatch + combine are ~60% (PCIe) and ~15% (NVLink) of top-2's
// MoE time. For top2, top1, shared and scmoe pos 1/2/3 at every K and adaptive: iteration time of the pair,
// speedup vs top2 (x and % time), overlap %, exposed communication, the cost model's prediction and its
// error, the physical bound (all compute as measured, nothing exposed) and the fraction of it reached, and
// whether adaptive K is as fast as the best fixed K. Also the CUPTI capture overhead and the expert
// grouped-GEMM throughput against dense at::mm of the same FLOPs.
//
// Prints Markdown tables and (with --json) writes every number to a JSON file, rewritten after each row so
// that a run stopped by a timeout still leaves what it measured. bench/gpu/check.sh runs it on the GPU
// machine. Without a CUDA device, or with a LibTorch built without CUDA, it exits with code 77 (skipped).
//
//   scmoe_gpu_bench [--quick] [--regime 60|15|both] [--json FILE] [--budget-s SECONDS] [--cpu-smoke]
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "scmoe/engine/config.h"
#include "scmoe/engine/config_io.h"
#include "scmoe/engine/runner.h"
#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/cost_model.h"

// _grouped_mm(Tensor self, Tensor mat2, Tensor? offs=None, Tensor? bias=None, ScalarType? out_dtype=None)
// (native_functions.yaml, pytorch PR 150374); the same version guard as the engine's expert GEMMs
// (engine/src/model/token_dispatcher.cpp), so the benchmark measures what the engine runs. The GPU machine
// has 2.11.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
#define SCMOE_HAVE_GROUPED_MM 1
#else
#define SCMOE_HAVE_GROUPED_MM 0
#endif

#ifndef SCMOE_TORCH_HAS_CUDA
#define SCMOE_TORCH_HAS_CUDA 0
#endif

namespace eng = scmoe::engine;
namespace cost = scmoe::prof::cost;
using nlohmann::json;

namespace {

constexpr int kSkipExitCode = 77;  // CTest's and Automake's "skipped"
constexpr int kEmulatedRanks = 8;  // EP = 8, one expert per rank: the single GPU plays rank 0
constexpr int kTokensPerRank = 16384;
constexpr int kSeqLen = 2048;
constexpr int kExperts = 8;
constexpr int kBf16Bytes = 2;

struct Options {
  bool quick = false;
  std::vector<double> shares{0.60, 0.15};
  std::string json_path;
  double budget_s = 0.0;  // wall-clock seconds for the engine runs; 0: no limit
  bool cpu_smoke = false;  // the whole flow on CPU ranks with the demo shapes: checks the program, not the GPU
};

void usage(FILE* to) {
  std::fprintf(to,
               "usage: scmoe_gpu_bench [--quick] [--regime 60|15|both] [--json FILE] [--budget-s SECONDS] [--cpu-smoke]\n"
               "  --quick    fewer iterations (check.sh's 6-minute budget)\n"
               "  --regime   which emulated link: top-2's dispatch+combine ~60%% (PCIe) or ~15%% (NVLink) of its\n"
               "             MoE time, or both (default)\n"
               "  --json     write every number to FILE (rewritten after each row)\n"
               "  --cpu-smoke the whole flow on the CPU with the demo shapes, no GEMM comparison (checks this\n"
               "             program where there is no GPU; its numbers mean nothing)\n"
               "  --budget-s start no engine run that would end past SECONDS (the rows not run are listed); the\n"
               "             core rows (top2, scmoe pos 2 at every K and adaptive) of every regime come first\n"
               "Exit codes: 0 done, 1 a run failed, 2 usage, 77 skipped (no CUDA device or no CUDA LibTorch).\n");
}

bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      o.quick = true;
    } else if (a == "--cpu-smoke") {
      o.cpu_smoke = true;
    } else if (a == "--regime" && i + 1 < argc) {
      const std::string_view v = argv[++i];
      if (v == "60") o.shares = {0.60};
      else if (v == "15") o.shares = {0.15};
      else if (v == "both") o.shares = {0.60, 0.15};
      else return false;
    } else if (a == "--json" && i + 1 < argc) {
      o.json_path = argv[++i];
    } else if (a == "--budget-s" && i + 1 < argc) {
      char* end = nullptr;
      o.budget_s = std::strtod(argv[++i], &end);
      if (*end != '\0' || o.budget_s < 0) return false;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    } else {
      return false;
    }
  }
  return true;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The results document; written to a temporary file and renamed, so a reader never sees half of it.
class Results {
 public:
  explicit Results(std::string path) : path_(std::move(path)) {}
  json doc = json::object();
  void save() const {
    if (path_.empty()) return;
    const std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp);
      out << doc.dump(2) << '\n';
      if (!out) {
        std::fprintf(stderr, "scmoe_gpu_bench: cannot write %s\n", tmp.c_str());
        return;
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path_, ec);
    if (ec) std::fprintf(stderr, "scmoe_gpu_bench: cannot rename %s: %s\n", tmp.c_str(), ec.message().c_str());
  }

 private:
  std::string path_;
};

[[noreturn]] void fail(Results& results, const std::string& message) {
  std::fprintf(stderr, "scmoe_gpu_bench: %s\n", message.c_str());
  results.doc["error"] = message;
  results.save();
  std::exit(1);
}

// ---------------------------------------------------------------------------------------------------------
// Expert grouped GEMM vs dense at::mm (same total FLOPs, bf16, random data).

// Median over batches of the mean time of `repeats` calls, synchronising the device around each batch (the
// GEMMs here take ~0.1-1 ms, so the host's launch and sync overhead is a few percent of a batch at most).
double device_ms(const std::function<void()>& fn, int repeats, int batches) {
  for (int i = 0; i < 3; ++i) fn();  // cuBLAS / CUTLASS heuristics, allocator warm-up
  torch::cuda::synchronize();
  std::vector<double> samples;
  for (int b = 0; b < batches; ++b) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < repeats; ++i) fn();
    torch::cuda::synchronize();
    const std::chrono::duration<double, std::milli> dt = std::chrono::steady_clock::now() - t0;
    samples.push_back(dt.count() / repeats);
  }
  return median(samples);
}

json grouped_gemm_bench(bool quick) {
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  // Rows reaching the experts: every token of the rank twice (top-2), spread over the 8 experts by a real
  // top-2 of random logits, so the groups are uneven as in a run.
  const std::int64_t rows = 2LL * kTokensPerRank;
  const at::Tensor picks = std::get<1>(at::randn({kTokensPerRank, kExperts}, opts.dtype(at::kFloat)).topk(2, -1));
  const at::Tensor counts = picks.flatten().bincount({}, kExperts).to(at::kCPU);
  std::vector<std::int64_t> sizes(kExperts);
  for (int g = 0; g < kExperts; ++g) sizes[g] = counts[g].item<std::int64_t>();
  const at::Tensor offs = counts.cumsum(0).to(at::kInt).to(at::kCUDA);

  json out = json::object();
  out["groups"] = kExperts;
  out["rows"] = rows;
  out["group_rows"] = sizes;
  out["grouped_mm_available"] = bool(SCMOE_HAVE_GROUPED_MM);
  out["timing"] = "host clock around batches of repeats with a device synchronize; median of batches";
  json gemms = json::array();
  const int repeats = quick ? 10 : 30, batches = quick ? 5 : 9;
  struct Shape {
    const char* name;
    std::int64_t k, n;
  };
  for (const Shape s : {Shape{"fc1 (1024 -> 4096)", 1024, 4096}, Shape{"fc2 (4096 -> 1024)", 4096, 1024}}) {
    const at::Tensor a = at::randn({rows, s.k}, opts);
    const at::Tensor w = at::randn({kExperts, s.k, s.n}, opts) * (1.0 / std::sqrt(double(s.k)));
    const at::Tensor w_dense = w[0];
    const double flop = 2.0 * double(rows) * double(s.k) * double(s.n);
    auto tflops = [&](double ms) { return flop / (ms * 1e-3) / 1e12; };
    json g = {{"name", s.name}, {"m", rows}, {"k", s.k}, {"n", s.n}};
    const double dense_ms = device_ms([&] { (void)at::mm(a, w_dense); }, repeats, batches);
    const double loop_ms = device_ms(
        [&] {
          std::int64_t start = 0;
          for (int e = 0; e < kExperts; ++e) {
            (void)at::mm(a.narrow(0, start, sizes[e]), w[e]);
            start += sizes[e];
          }
        },
        repeats, batches);
    g["dense_ms"] = dense_ms;
    g["dense_tflops"] = tflops(dense_ms);
    g["loop_ms"] = loop_ms;
    g["loop_tflops"] = tflops(loop_ms);
    g["loop_fraction"] = dense_ms / loop_ms;
#if SCMOE_HAVE_GROUPED_MM
    try {
      // Correctness first, on the real data: a fast wrong kernel must not count.
      const at::Tensor ref = at::mm(a.narrow(0, 0, sizes[0]), w[0]).to(at::kFloat);
      const at::Tensor got = at::_grouped_mm(a, w, offs).narrow(0, 0, sizes[0]).to(at::kFloat);
      g["grouped_rel_error"] = ((got - ref).norm() / ref.norm()).item<double>();
      const double grouped_ms = device_ms([&] { (void)at::_grouped_mm(a, w, offs); }, repeats, batches);
      g["grouped_ms"] = grouped_ms;
      g["grouped_tflops"] = tflops(grouped_ms);
      g["grouped_fraction"] = dense_ms / grouped_ms;
    } catch (const c10::Error& e) {
      g["grouped_error"] = e.what_without_backtrace();
    }
#else
    (void)offs;
    g["grouped_error"] = "at::_grouped_mm: LibTorch >= 2.9 (as the engine)";
#endif
    gemms.push_back(g);
  }
  out["gemms"] = gemms;
  return out;
}

void print_gemm_table(const json& gg) {
  std::printf("\n### Expert GEMMs: %d experts, %lld rows in all (top-2 of %d tokens), bf16\n\n", kExperts,
              static_cast<long long>(gg["rows"].get<std::int64_t>()), kTokensPerRank);
  std::printf("| GEMM | dense at::mm TFLOP/s | per-expert at::mm loop TFLOP/s (fraction) | at::_grouped_mm TFLOP/s (fraction) |\n");
  std::printf("|---|---|---|---|\n");
  for (const json& g : gg["gemms"]) {
    std::printf("| %s | %.0f | %.0f (%.0f%%) |", g["name"].get<std::string>().c_str(), g["dense_tflops"].get<double>(),
                g["loop_tflops"].get<double>(), 100.0 * g["loop_fraction"].get<double>());
    if (g.contains("grouped_tflops")) {
      std::printf(" %.0f (%.0f%%) |\n", g["grouped_tflops"].get<double>(), 100.0 * g["grouped_fraction"].get<double>());
    } else {
      std::printf(" n/a: %s |\n", g["grouped_error"].get<std::string>().c_str());
    }
  }
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------------------
// Engine runs.

eng::EngineConfig base_config(bool quick) {
  eng::EngineConfig c;
  eng::apply_preset("gpt2-moe-medium", c);  // hidden 1024, FFN 4096, 16 heads, seq 2048
  c.pairs = 1;                               // one Block-MLP + Block-MoE pair: "iteration time of the pair"
  c.seq_len = kSeqLen;
  c.tokens_per_rank = kTokensPerRank;
  c.num_experts = kExperts;
  c.ep_size = 1;                             // the single GPU ...
  c.link.emulated_ranks = kEmulatedRanks;    // ... plays rank 0 of an 8-rank group
  c.device = eng::DeviceType::Cuda;
  c.dtype = eng::DType::BF16;
  c.dropless = true;                         // the same tokens reach the experts in every arch
  c.warmup = quick ? 5 : 10;
  c.iterations = quick ? 20 : 60;
  return c;
}

struct Measured {
  eng::RunSummary summary;
  double overlap_pct = 0.0;   // mean over the measured iterations
  double exposed_ms = 0.0;    // mean over the measured iterations: comm not under any compute
  double comm_ms = 0.0;       // mean union of communication per iteration
  cost::OpTimes op_times;     // medians over the measured iterations
  double compute_ms = 0.0;    // sum of the compute ops (all but dispatch/combine) x pairs: the physical bound
};

Measured run(const eng::EngineConfig& config, Results& results) {
  Measured m;
  std::vector<scmoe::prof::Trace> traces;
  eng::Runner runner;
  const auto errors = runner.start(config, {[&](const eng::IterationResult& r) {
                                              if (r.arch != config.arch) return;
                                              const auto report = scmoe::prof::analysis::analyze_overlap(
                                                  r.trace, {scmoe::prof::analysis::TrackSelection::Auto, false});
                                              if (!report.whole_trace.empty()) {
                                                const auto& total = report.whole_trace.back().total;
                                                m.overlap_pct += total.overlap_percent();
                                                m.exposed_ms += double(total.exposed_ns) * 1e-6;
                                                m.comm_ms += double(total.comm_ns) * 1e-6;
                                              }
                                              traces.push_back(r.trace);
                                            },
                                            nullptr, nullptr});
  if (!errors.empty()) {
    std::string message = "the engine refused the config:";
    for (const auto& e : errors) message += " " + e.field + ": " + e.message + ";";
    fail(results, message);
  }
  m.summary = runner.wait();
  if (!m.summary.error.empty()) fail(results, "run failed: " + m.summary.error);
  if (!traces.empty()) {
    const double n = double(traces.size());
    m.overlap_pct /= n;
    m.exposed_ms /= n;
    m.comm_ms /= n;
    m.op_times = cost::measured_op_times(traces);
    for (int i = 0; i < cost::kOpCount; ++i) {
      const auto op = static_cast<cost::Op>(i);
      if (op != cost::Op::Dispatch && op != cost::Op::Combine) m.compute_ms += m.op_times[op];
    }
    m.compute_ms *= config.pairs;
  }
  return m;
}

// Emulated link such that top-2's dispatch + combine take `share` of its MoE time (gate + encode + dispatch +
// experts + combine + decode), from top-2's op times measured without a link (the approach of
// bench/engine_bench.cpp, here with bf16 rows and a group of 8).
eng::LinkModel calibrate_link(const eng::EngineConfig& base, double share, Results& results, json& info) {
  eng::EngineConfig probe = base;
  probe.arch = eng::Arch::Top2;
  probe.schedule = eng::Schedule::Sequential;
  probe.iterations = 3;
  probe.link = eng::LinkModel{};
  const cost::OpTimes t = run(probe, results).summary.op_times;
  const double moe_compute_ms = t[cost::Op::Gate] + t[cost::Op::Encode] + t[cost::Op::Expert] + t[cost::Op::Decode];
  if (moe_compute_ms <= 0.0) fail(results, "calibration: top-2 run without a link reported no MoE op times");
  const double per_exchange_ms = share / (1.0 - share) * moe_compute_ms / 2.0;
  const double bytes = cost::exchange_bytes(base.tokens_per_rank, 2, base.hidden, kBf16Bytes, kEmulatedRanks);
  eng::LinkModel link;
  link.enabled = true;
  link.emulated_ranks = kEmulatedRanks;
  link.latency_us = 0.1 * per_exchange_ms * 1e3;  // latency 10% of an exchange, bandwidth the rest
  link.bandwidth_gbps = bytes / (0.9 * per_exchange_ms * 1e-3) / 1e9;
  info = {{"probe_moe_compute_ms", moe_compute_ms},
          {"probe_dispatch_ms", t[cost::Op::Dispatch]},
          {"probe_combine_ms", t[cost::Op::Combine]},
          {"per_exchange_ms", per_exchange_ms},
          {"top2_exchange_bytes", bytes}};
  return link;
}

struct Row {
  std::string label;
  eng::Arch arch;
  int position;
  eng::Schedule schedule;
  int slot;  // fixed K (Schedule::Overlap); 0 otherwise
};

// Rows in the order they are measured: first what issue 6's goals and the eager comparison need (top2 and
// scmoe pos 2 at every K and adaptive) in every regime, then the rest, so that a run short of time
// (--budget-s) still has the core of the table.
std::vector<std::vector<Row>> row_groups() {
  std::vector<Row> core = {{"top2", eng::Arch::Top2, 2, eng::Schedule::Adaptive, 0}};
  std::vector<Row> rest = {{"top1", eng::Arch::Top1, 2, eng::Schedule::Adaptive, 0},
                           {"shared", eng::Arch::Shared, 2, eng::Schedule::Adaptive, 0}};
  for (const int pos : {2, 1, 3}) {
    std::vector<Row>& to = pos == 2 ? core : rest;
    for (int k = 1; k <= eng::expert_slots(pos); ++k) {
      to.push_back({"scmoe pos" + std::to_string(pos) + " K=" + std::to_string(k), eng::Arch::ScMoE, pos,
                    eng::Schedule::Overlap, k});
    }
    to.push_back({"scmoe pos" + std::to_string(pos) + " adaptive", eng::Arch::ScMoE, pos, eng::Schedule::Adaptive, 0});
  }
  return {core, rest};
}

void print_row(const std::string& regime, const json& r) {
  const auto d = [&](const char* key) { return r[key].get<double>(); };
  std::printf("| %s | %s | %s | %.3f | %.3fx | %.1f%% | %.0f%% | %.3f | %.3f | %+.1f%% | %.3f | %.3fx | %.0f%% |\n",
              regime.c_str(), r["label"].get<std::string>().c_str(),
              r["k"].get<int>() > 0 ? std::to_string(r["k"].get<int>()).c_str() : "-", d("median_ms"), d("speedup_x"),
              d("time_saved_pct"), d("overlap_pct"), d("exposed_ms"), d("predicted_ms"), d("prediction_error_pct"),
              d("bound_ms"), d("bound_speedup_x"), 100.0 * d("fraction_of_bound"));
  std::fflush(stdout);
}

eng::LinkModel link_of(const json& regime) {
  eng::LinkModel link;
  link.enabled = true;
  link.bandwidth_gbps = regime["link"]["bandwidth_gbps"].get<double>();
  link.latency_us = regime["link"]["latency_us"].get<double>();
  link.emulated_ranks = kEmulatedRanks;
  return link;
}

json calibrated_regime(const eng::EngineConfig& base, double share, Results& results) {
  json info;
  const eng::LinkModel link = calibrate_link(base, share, results, info);
  std::printf("comm = %.0f%% of top-2 MoE time: emulated link %.2f GB/s, %.1f us, rank 0 of %d (emulated)\n",
              share * 100, link.bandwidth_gbps, link.latency_us, kEmulatedRanks);
  std::fflush(stdout);
  return {{"comm_share_target", share},
          {"link", {{"bandwidth_gbps", link.bandwidth_gbps}, {"latency_us", link.latency_us},
                    {"emulated_ranks", link.emulated_ranks}}},
          {"calibration", info},
          {"rows", json::array()},
          {"not_run", json::array()}};
}

json measure_row(const eng::EngineConfig& base, const Row& row, json& regime, Results& results) {
  eng::EngineConfig c = base;
  c.arch = row.arch;
  c.shortcut_position = row.position;
  c.schedule = row.schedule;
  if (row.slot > 0) c.expert_slot = row.slot;
  c.link = link_of(regime);
  const Measured m = run(c, results);
  const eng::RunSummary& s = m.summary;
  if (row.arch == eng::Arch::Top2) {
    regime["top2_ms"] = s.median_ms;
    const cost::OpTimes& t = m.op_times;
    const double comm = t[cost::Op::Dispatch] + t[cost::Op::Combine];
    const double moe = comm + t[cost::Op::Gate] + t[cost::Op::Encode] + t[cost::Op::Expert] + t[cost::Op::Decode];
    regime["top2_comm_share_measured"] = moe > 0 ? comm / moe : 0.0;
  }
  const double top2_ms = regime.value("top2_ms", 0.0);
  json r = {{"label", row.label},
            {"arch", std::string(eng::to_string(row.arch))},
            {"position", row.position},
            {"schedule", std::string(eng::to_string(row.schedule))},
            {"k", row.slot > 0 ? row.slot : (row.arch == eng::Arch::ScMoE ? s.chosen_slot : 0)},
            {"fixed_k", row.slot > 0},
            {"iterations", s.iterations_done},
            {"median_ms", s.median_ms},
            {"speedup_x", s.median_ms > 0 ? top2_ms / s.median_ms : 0.0},
            {"time_saved_pct", top2_ms > 0 ? 100.0 * (1.0 - s.median_ms / top2_ms) : 0.0},
            {"overlap_pct", m.overlap_pct},
            {"comm_ms", m.comm_ms},
            {"exposed_ms", m.exposed_ms},
            {"predicted_ms", s.predicted_ms},
            {"prediction_error_pct", s.predicted_ms > 0 ? 100.0 * (s.median_ms - s.predicted_ms) / s.predicted_ms : 0.0},
            {"predicted_top2_ms", s.predicted_top2_ms},
            {"bound_ms", m.compute_ms},
            {"bound_speedup_x", m.compute_ms > 0 ? top2_ms / m.compute_ms : 0.0},
            {"fraction_of_bound", s.median_ms > 0 ? m.compute_ms / s.median_ms : 0.0}};
  json ops = json::object();
  for (int i = 0; i < cost::kOpCount; ++i) {
    const auto op = static_cast<cost::Op>(i);
    ops[std::string(cost::op_name(op))] = m.op_times[op];
  }
  r["op_ms"] = ops;
  return r;
}

// Adaptive against the best fixed K, per position, and the best scmoe of the regime, from the rows so far.
void compare_adaptive(json& regime) {
  json adaptive = json::array();
  const json* best_scmoe = nullptr;
  for (int pos = 1; pos <= 3; ++pos) {
    const json* best_fixed = nullptr;
    const json* chosen = nullptr;
    for (const json& r : regime["rows"]) {
      if (r["arch"] != "scmoe" || r["position"].get<int>() != pos) continue;
      if (r["fixed_k"].get<bool>()) {
        if (!best_fixed || r["median_ms"].get<double>() < (*best_fixed)["median_ms"].get<double>()) best_fixed = &r;
        if (!best_scmoe || r["median_ms"].get<double>() < (*best_scmoe)["median_ms"].get<double>()) best_scmoe = &r;
      } else {
        chosen = &r;
      }
    }
    if (!best_fixed || !chosen) continue;
    const double ratio = (*chosen)["median_ms"].get<double>() / (*best_fixed)["median_ms"].get<double>();
    // Same K, or a different K within 2% (run-to-run noise of separate runs): as fast as the best fixed K.
    const bool matches = (*chosen)["k"] == (*best_fixed)["k"] || ratio <= 1.02;
    adaptive.push_back({{"position", pos},
                        {"adaptive_k", (*chosen)["k"]},
                        {"adaptive_ms", (*chosen)["median_ms"]},
                        {"adaptive_speedup_x", (*chosen)["speedup_x"]},
                        {"best_k", (*best_fixed)["k"]},
                        {"best_ms", (*best_fixed)["median_ms"]},
                        {"best_speedup_x", (*best_fixed)["speedup_x"]},
                        {"adaptive_over_best", ratio},
                        {"matches", matches}});
  }
  json best = best_scmoe ? *best_scmoe : json();
  regime["adaptive"] = adaptive;
  if (!best.is_null()) regime["best_scmoe"] = best;
}

void print_adaptive(const json& regime) {
  std::printf("\n%.0f%% regime: | position | adaptive K* | adaptive ms | best fixed K | best ms | adaptive / best | as fast as best K |\n",
              100 * regime["comm_share_target"].get<double>());
  for (const json& a : regime["adaptive"]) {
    std::printf("| %d | %d | %.3f | %d | %.3f | %.3f | %s |\n", a["position"].get<int>(), a["adaptive_k"].get<int>(),
                a["adaptive_ms"].get<double>(), a["best_k"].get<int>(), a["best_ms"].get<double>(),
                a["adaptive_over_best"].get<double>(), a["matches"].get<bool>() ? "yes" : "no");
  }
  if (!regime["not_run"].empty()) std::printf("not run (time budget): %s\n", regime["not_run"].dump().c_str());
  std::fflush(stdout);
}

// Wall-clock budget for the engine runs (--budget-s; 0: none): runs start only if as many runs as long as
// the longest so far still fit.
class Budget {
 public:
  explicit Budget(double seconds) : seconds_(seconds) {}
  bool fits(int runs = 1) const { return seconds_ <= 0 || elapsed() + runs * longest_ <= seconds_; }
  void ran(double run_s) { longest_ = std::max(longest_, run_s); }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  double seconds_;
  double longest_ = 0.0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

void run_regimes(const eng::EngineConfig& base, const std::vector<double>& shares, Budget& budget, Results& results) {
  json& regimes = results.doc["regimes"];
  std::printf("\n### Emulated links (calibrated without a link on top-2's op times)\n\n");
  for (const double share : shares) {
    regimes.push_back(calibrated_regime(base, share, results));
    results.save();
  }
  std::printf("\n### Pair time per arch (speedups vs top2 of the same regime)\n\n");
  std::printf("| regime | arch | K | pair ms (median) | speedup vs top2 | time saved | overlap | exposed comm ms | predicted ms | prediction error | physical bound ms | bound speedup | fraction of bound |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  for (const auto& group : row_groups()) {
    for (json& regime : regimes) {
      const std::string label = std::to_string(std::lround(100 * regime["comm_share_target"].get<double>())) + "%";
      for (const Row& row : group) {
        if (!budget.fits()) {
          regime["not_run"].push_back(row.label);
          continue;
        }
        const double t0 = budget.elapsed();
        json r = measure_row(base, row, regime, results);
        budget.ran(budget.elapsed() - t0);
        regime["rows"].push_back(r);
        compare_adaptive(regime);
        results.save();
        print_row(label, r);
      }
    }
  }
  for (json& regime : regimes) print_adaptive(regime);
  results.save();
}

// CUPTI capture on vs off on the same config (scmoe pos 2, adaptive, the first regime's link), alternated
// twice so a drift of the GPU clocks between runs does not read as overhead.
json cupti_overhead(const eng::EngineConfig& base, const json& link, Results& results) {
  eng::EngineConfig c = base;
  c.arch = eng::Arch::ScMoE;
  c.shortcut_position = 2;
  c.schedule = eng::Schedule::Adaptive;
  c.link.enabled = true;
  c.link.bandwidth_gbps = link["bandwidth_gbps"].get<double>();
  c.link.latency_us = link["latency_us"].get<double>();
  c.link.emulated_ranks = kEmulatedRanks;
  std::vector<double> on, off;
  for (int round = 0; round < 2; ++round) {
    c.cupti_capture = false;
    off.push_back(run(c, results).summary.median_ms);
    c.cupti_capture = true;
    on.push_back(run(c, results).summary.median_ms);
  }
  const double off_ms = median(off), on_ms = median(on);
  return {{"available", true},
          {"config", "scmoe pos2 adaptive, first regime's link"},
          {"off_ms", off_ms},
          {"on_ms", on_ms},
          {"off_runs_ms", off},
          {"on_runs_ms", on},
          {"overhead_pct", 100.0 * (on_ms - off_ms) / off_ms}};
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) {
    usage(stderr);
    return 2;
  }
  Results results(options.json_path);
  results.doc["tool"] = "scmoe_gpu_bench";
  results.doc["date_utc"] = utc_now();
  results.doc["torch_version"] = TORCH_VERSION;
  results.doc["quick"] = options.quick;

  // Skip (77), not fail, where there is nothing to measure: check.sh and ctest report it as skipped.
  std::string skip;
  if (options.cpu_smoke) {
    // No device needed.
  } else if (!SCMOE_TORCH_HAS_CUDA || !at::hasCUDA()) {
    skip = SCMOE_TORCH_HAS_CUDA ? "no CUDA device: this LibTorch has CUDA but found no usable GPU (driver, device)"
                                : "no CUDA device: this LibTorch (" TORCH_VERSION ") was built without CUDA";
  } else if (at::getNumGPUs() == 0) {
    skip = "no CUDA device: LibTorch sees 0 GPUs";
  }
  if (!skip.empty()) {
    std::fprintf(stderr, "scmoe_gpu_bench: skipped: %s\n", skip.c_str());
    results.doc["skipped"] = skip;
    results.save();
    return kSkipExitCode;
  }

  eng::EngineConfig base = base_config(options.quick);
  if (options.cpu_smoke) {
    eng::apply_preset("demo", base);
    base.pairs = 1;
    base.ep_size = 1;
    base.num_experts = kExperts;
    base.tokens_per_rank = 8 * base.seq_len;
    base.device = eng::DeviceType::Cpu;
    base.dtype = eng::DType::F32;
    base.warmup = 2;
    base.iterations = 3;
  }
  results.doc["cpu_smoke"] = options.cpu_smoke;
  results.doc["config"] = json::parse(eng::config_to_json(base));
  results.doc["shape"] = {{"preset", base.preset}, {"hidden", base.hidden}, {"ffn", base.ffn}, {"heads", base.heads},
                          {"seq_len", base.seq_len}, {"tokens_per_rank", base.tokens_per_rank},
                          {"num_experts", base.num_experts}, {"emulated_ranks", kEmulatedRanks}, {"dtype", "bf16"},
                          {"warmup", base.warmup}, {"iterations", base.iterations}};
  results.save();

  // The GEMM comparison first: it needs no engine, so its numbers exist even if an engine run fails.
  at::manual_seed(1234);
  if (options.cpu_smoke) {
    results.doc["grouped_gemm"] = {{"skipped", "--cpu-smoke"}};
  } else {
    results.doc["grouped_gemm"] = grouped_gemm_bench(options.quick);
    results.save();
    print_gemm_table(results.doc["grouped_gemm"]);
  }

  results.doc["regimes"] = json::array();
  Budget budget(options.budget_s);
  run_regimes(base, options.shares, budget, results);

  // The CUPTI comparison is four runs; skipped (and said so) when they no longer fit the budget.
  results.doc["cupti"] = budget.fits(4)
                             ? cupti_overhead(base, results.doc["regimes"][0]["link"], results)
                             : json{{"available", false}, {"reason", "not run: --budget-s reached"}};
  results.save();
  const json& cu = results.doc["cupti"];
  if (cu["available"].get<bool>()) {
    std::printf("\nCUPTI capture overhead: %.3f ms off, %.3f ms on: %+.2f%% of iteration time (goal <= 3%%)\n",
                cu["off_ms"].get<double>(), cu["on_ms"].get<double>(), cu["overhead_pct"].get<double>());
  } else {
    std::printf("\nCUPTI capture overhead: not measured: %s\n", cu["reason"].get<std::string>().c_str());
  }
  results.doc["finished_utc"] = utc_now();
  results.save();
  return 0;
}
