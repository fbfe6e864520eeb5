// Trace format speeds and memory, measured in one run (plain main, prints a Markdown table):
//  - import MB/s of the Kineto fixtures (plain JSON and .json.gz) and of a generated large Kineto-style JSON,
//  - native .scmoe save and load in GB/s of uncompressed payload (the file header's payload size: 40 bytes a
//    span plus names, args and metadata), the compression ratio, and the load of a version 1 file,
//  - bytes per span of a generated 10-million-span trace (allocated bytes counted by type, and RSS growth).
// Usage: scmoe_import_bench [--json-mb N] [--spans N] [--fixtures DIR] [--tmp DIR]
#include <sys/resource.h>
#include <unistd.h>

#include <zstd.h>

#include <ctime>
#include <optional>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "scmoe/profiler/formats/atomic_file.h"
#include "scmoe/profiler/formats/load.h"
#include "scmoe/profiler/formats/native.h"
#include "scmoe/profiler/formats/timestamp.h"

using namespace scmoe::prof;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Wall and CPU seconds of one run. CPU time is the process's (all its threads): for single-threaded steps
// it is their work even when other processes share the cores; the native load decodes on several threads,
// so there wall time is the speed a user sees and CPU time the total work. Both are reported.
struct Timing {
  double wall = 1e300, cpu = 1e300;
};

Timing time_of(const std::function<void()>& f) {
  const auto w0 = Clock::now();
  const double c0 = cpu_now();
  f();
  return {std::chrono::duration<double>(Clock::now() - w0).count(), cpu_now() - c0};
}

// Best of `runs` (the machine is shared: the minimum is the least disturbed measurement).
Timing best_of(int runs, const std::function<void()>& f) {
  Timing best;
  for (int i = 0; i < runs; ++i) {
    const Timing t = time_of(f);
    best.wall = std::min(best.wall, t.wall);
    best.cpu = std::min(best.cpu, t.cpu);
  }
  return best;
}

// Best of `runs` loads of `path`. Each loaded trace is destroyed after its timing stops: freeing a trace
// is not part of loading one.
Timing best_load(int runs, const std::string& path, std::optional<Trace>* keep = nullptr) {
  Timing best;
  for (int i = 0; i < runs; ++i) {
    formats::LoadResult r;
    const Timing t = time_of([&] { r = formats::load_traces({path}); });
    best.wall = std::min(best.wall, t.wall);
    best.cpu = std::min(best.cpu, t.cpu);
    if (keep && r.trace) *keep = std::move(r.trace);
  }
  return best;
}

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

// A Kineto-like trace: per iteration a CPU op with a launch, the kernel it launches (with Kineto's kernel
// args), an ac2g flow, and every 8th kernel an NCCL SendRecv on the comm stream.
std::string generate_kineto_json(std::size_t target_bytes) {
  std::string out;
  out.reserve(target_bytes + (1 << 20));
  out += R"({"schemaVersion": 1, "distributedInfo": {"backend": "nccl", "rank": 0, "world_size": 8}, "traceEvents": [)";
  std::mt19937_64 rng(7);
  std::int64_t ts_ns = 1682725898000000000LL / 1000 * 1000;
  bool first = true;
  std::size_t correlation = 1;
  while (out.size() < target_bytes) {
    const std::int64_t cpu_dur = 5000 + static_cast<std::int64_t>(rng() % 20000);
    const std::int64_t k_dur = 2000 + static_cast<std::int64_t>(rng() % 100000);
    const bool nccl = correlation % 8 == 0;
    auto us = [](std::int64_t ns) {
      std::string s;
      scmoe::prof::formats::append_ns_as_us(s, ns);
      return s;
    };
    const std::string c = std::to_string(correlation);
    if (!first) out += ",";
    first = false;
    out += "\n{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"aten::linear\", \"pid\": 4037, \"tid\": 4037, \"ts\": " +
           us(ts_ns) + ", \"dur\": " + us(cpu_dur) + ", \"args\": {\"External id\": " + c +
           ", \"Input Dims\": [[4096, 1024], [1024, 1024], [1024]], \"Input type\": [\"float\", \"float\", \"float\"]}}";
    out += ",\n{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaLaunchKernel\", \"pid\": 4037, \"tid\": 4037, \"ts\": " +
           us(ts_ns + 1000) + ", \"dur\": " + us(3000) + ", \"args\": {\"External id\": " + c +
           ", \"cbid\": 211, \"correlation\": " + c + "}}";
    out += ",\n{\"ph\": \"s\", \"id\": " + c + ", \"pid\": 4037, \"tid\": 4037, \"ts\": " + us(ts_ns + 1000) +
           ", \"cat\": \"ac2g\", \"name\": \"ac2g\"}";
    const std::int64_t k_start = ts_ns + 8000;
    const char* stream = nccl ? "84" : "7";
    const std::string name = nccl ? "ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)"
                                  : "void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_64x64_16x6_nn_align4>(Params)";
    out += ",\n{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"" + name + "\", \"pid\": 0, \"tid\": " + stream +
           ", \"ts\": " + us(k_start) + ", \"dur\": " + us(k_dur) + ", \"args\": {\"External id\": " + c +
           ", \"queued\": 0, \"device\": 0, \"context\": 1, \"stream\": " + stream + ", \"correlation\": " + c +
           ", \"registers per thread\": 90, \"shared memory\": 49152, \"blocks per SM\": 0.5925926, \"warps per SM\": "
           "2.3703704, \"grid\": [64, 1, 1], \"block\": [128, 1, 1], \"est. achieved occupancy %\": 4}}";
    out += ",\n{\"ph\": \"f\", \"id\": " + c + ", \"pid\": 0, \"tid\": " + stream + ", \"ts\": " + us(k_start) +
           ", \"cat\": \"ac2g\", \"name\": \"ac2g\", \"bp\": \"e\"}";
    ts_ns += cpu_dur + 1000;
    ++correlation;
  }
  out += "\n]}\n";
  return out;
}

// A trace of `spans` spans shaped like an engine run: 8 ranks x (compute, comm) lanes, 64 distinct names,
// layer/iteration set, no args.
Trace generate_trace(std::size_t spans) {
  Trace t;
  std::vector<std::uint32_t> names;
  for (int i = 0; i < 64; ++i) names.push_back(t.strings.intern("op_" + std::to_string(i)));
  const std::size_t tracks = 16;
  for (std::size_t k = 0; k < tracks; ++k) {
    t.track_for({static_cast<std::int32_t>(k / 2), static_cast<std::int32_t>(k / 2), DeviceKind::Gpu,
                 k % 2 ? TrackKind::CommLane : TrackKind::ComputeLane, static_cast<std::int64_t>(k), "lane"});
    t.tracks[k].spans.reserve(spans / tracks + 1);
  }
  std::mt19937_64 rng(3);
  std::vector<std::int64_t> now(tracks, 1'700'000'000'000'000'000LL);
  for (std::size_t i = 0; i < spans; ++i) {
    const std::size_t k = i % tracks;
    Span s;
    s.start_ns = now[k] + static_cast<std::int64_t>(rng() % 500);
    s.end_ns = s.start_ns + 1000 + static_cast<std::int64_t>(rng() % 50000);
    now[k] = s.end_ns;
    s.name = names[rng() % names.size()];
    s.layer = static_cast<std::int32_t>(i / tracks % 24);
    s.iteration = static_cast<std::int32_t>(i / (tracks * 24 * 16));
    s.category = static_cast<Category>(rng() % kCategoryCount);
    t.tracks[k].spans.push_back(s);
  }
  return t;
}

std::size_t trace_heap_bytes(const Trace& t) {
  std::size_t bytes = t.tracks.capacity() * sizeof(Track);
  for (const Track& tr : t.tracks) bytes += tr.spans.capacity() * sizeof(Span) + tr.info.name.capacity();
  for (std::uint32_t i = 0; i < t.strings.size(); ++i) bytes += t.strings.view(i).size() + 32 + 48;  // string + index node
  bytes += t.args.memory_bytes() + t.flows.capacity() * sizeof(Flow);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t json_mb = 200;
  std::size_t span_count = 10'000'000;
  std::string fixtures = std::string(SCMOE_FIXTURES_DIR) + "/kineto";
  std::string tmp = std::filesystem::temp_directory_path().string();
  bool json_only = false;  // --json-only: the JSON imports alone (no memory or native rows)
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--json-only") {
      json_only = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "usage: scmoe_import_bench [--json-only] [--json-mb N] [--spans N] [--fixtures DIR] [--tmp DIR]\n";
      return 2;
    }
    if (a == "--json-mb") json_mb = std::stoul(argv[i + 1]);
    else if (a == "--spans") span_count = std::stoul(argv[i + 1]);
    else if (a == "--fixtures") fixtures = argv[i + 1];
    else if (a == "--tmp") tmp = argv[i + 1];
    else {
      std::cerr << "usage: scmoe_import_bench [--json-only] [--json-mb N] [--spans N] [--fixtures DIR] [--tmp DIR]\n";
      return 2;
    }
  }
  const std::string dir = tmp + "/scmoe_import_bench_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);

  // Memory first, while the heap is fresh (freed pages of earlier steps would hide the growth).
  const std::size_t rss_before = rss_bytes();
  std::optional<Trace> ten;
  if (!json_only) ten = generate_trace(span_count);
  const std::size_t rss_after = rss_bytes();
  const double counted = ten ? static_cast<double>(trace_heap_bytes(*ten)) / static_cast<double>(span_count) : 0;
  const double rss = static_cast<double>(rss_after - rss_before) / static_cast<double>(span_count);

  std::cout << "| what | input | wall s (best of 3) | CPU s (best of 3) | speed (wall / CPU) |\n|---|---|---|---|---|\n";
  if (!json_only) std::printf("| memory per span | %zu spans, 64 names, no args | - | - | %.1f B counted, %.1f B RSS growth (sizeof(Span) = %zu) |\n",
              span_count, counted, rss, sizeof(Span));
  // 0. The first import in the process: nothing warm yet (parser buffers, freed heap pages), as when a
  // user opens one file. The best-of-3 rows below measure later imports in the same process.
  {
    const std::string gz = fixtures + "/trace_diff__control__control.json.gz";
    const std::string plain = dir + "/first.json";
    const std::string cmd = "gzip -dc '" + gz + "' > '" + plain + "'";
    if (std::system(cmd.c_str()) != 0) return 1;
    const double mb = static_cast<double>(file_size(plain)) / 1e6;
    const Timing t = best_load(1, plain);
    std::printf("| Kineto import, plain JSON, first in process | trace_diff__control__control.json.gz (%.1f MB) | %.3f | %.3f | %.0f / %.0f MB/s |\n",
                mb, t.wall, t.cpu, mb / t.wall, mb / t.cpu);
    std::filesystem::remove(plain);
  }
  // 1. Fixtures: .json.gz as shipped, and the same JSON uncompressed.
  for (const char* name : {"nccl_parser_config__nccl_data.json.gz", "trace_diff__control__control.json.gz",
                           "trace_diff__test__test.json.gz"}) {
    const std::string gz = fixtures + "/" + name;
    const std::string plain = dir + "/plain.json";
    auto loaded = formats::load_traces({gz});
    if (!loaded.trace) {
      std::cerr << loaded.error << "\n";
      return 1;
    }
    // The uncompressed JSON is the gzip content itself.
    const std::string cmd = "gzip -dc '" + gz + "' > '" + plain + "'";
    if (std::system(cmd.c_str()) != 0) return 1;
    const double mb = static_cast<double>(file_size(plain)) / 1e6;
    const Timing t_plain = best_load(3, plain);
    const Timing t_gz = best_load(3, gz);
    std::printf("| Kineto import, plain JSON | %s (%.1f MB) | %.3f | %.3f | %.0f / %.0f MB/s |\n", name, mb, t_plain.wall,
                t_plain.cpu, mb / t_plain.wall, mb / t_plain.cpu);
    std::printf("| Kineto import, .json.gz (gunzip included) | %s | %.3f | %.3f | %.0f / %.0f MB/s of JSON |\n", name,
                t_gz.wall, t_gz.cpu, mb / t_gz.wall, mb / t_gz.cpu);
  }

  // 2. A generated large Kineto-style JSON.
  const std::string big = dir + "/big.json";
  {
    const std::string text = generate_kineto_json(json_mb * 1000 * 1000);
    formats::write_file_atomically(big, text);
  }
  const double big_mb = static_cast<double>(file_size(big)) / 1e6;
  std::optional<Trace> big_trace;
  const Timing t_big = best_load(3, big, &big_trace);
  if (!big_trace) return 1;
  std::printf("| Kineto import, generated | %.0f MB, %zu spans, %zu flows | %.3f | %.3f | %.0f / %.0f MB/s |\n", big_mb,
              big_trace->span_count(), big_trace->flows.size(), t_big.wall, t_big.cpu, big_mb / t_big.wall,
              big_mb / t_big.cpu);
  {
    std::size_t arg_count = 0;
    for (std::uint32_t i = 0; i < big_trace->args.size(); ++i) arg_count += big_trace->args[i].size();
    std::printf("| memory per span, Kineto import with args | generated: %zu spans, %zu args | - | - | %.1f B counted (args %.1f B) |\n",
                big_trace->span_count(), arg_count,
                static_cast<double>(trace_heap_bytes(*big_trace)) / static_cast<double>(big_trace->span_count()),
                static_cast<double>(big_trace->args.memory_bytes()) / static_cast<double>(big_trace->span_count()));
  }
  std::filesystem::remove(big);
  if (json_only) {
    std::filesystem::remove_all(dir);
    return 0;
  }

  // 3. Native save / load of the imported large trace and of a 10M-span trace: the current format (version 2,
  // span blocks decoded in parallel) and, for comparison in the same run, version 1 (one zstd frame).
  auto native_round = [&](const Trace& t, const std::string& label) {
    const std::string path = dir + "/t.scmoe", path_v1 = dir + "/t1.scmoe";
    const Timing t_save = best_of(3, [&] { formats::save_native(t, path); });
    std::string bytes;
    formats::read_file(path, bytes);
    std::uint64_t payload_bytes = 0;  // the header's payload size: meta payload + 40 bytes a span
    std::memcpy(&payload_bytes, bytes.data() + 16, 8);
    const double payload = static_cast<double>(payload_bytes);
    const double file = static_cast<double>(bytes.size());
    // The first load pays for fresh pages from the kernel; later loads in the process reuse freed memory.
    const Timing t_first = best_load(1, path);
    const Timing t_load = best_load(3, path);
    formats::write_file_atomically(path_v1, formats::encode_native_v1(t));
    const double payload_v1 = static_cast<double>(formats::encode_native_payload(t).size());
    const Timing t_v1 = best_load(3, path_v1);
    const double span_count_d = static_cast<double>(t.span_count());
    std::printf("| native save (zstd 1, fsync, rename) | %s: %.0f MB payload (%.1f B/span), %.1f MB file (%.1fx) | %.3f | %.3f | %.2f / %.2f GB/s |\n",
                label.c_str(), payload / 1e6, payload / span_count_d, file / 1e6, payload / file, t_save.wall,
                t_save.cpu, payload / t_save.wall / 1e9, payload / t_save.cpu / 1e9);
    std::printf("| native load, first in process | %s | %.3f | %.3f | %.2f / %.2f GB/s of payload |\n", label.c_str(),
                t_first.wall, t_first.cpu, payload / t_first.wall / 1e9, payload / t_first.cpu / 1e9);
    std::printf("| native load, best of 3 more (%u threads available) | %s | %.3f | %.3f | %.2f / %.2f GB/s of payload |\n",
                std::thread::hardware_concurrency(), label.c_str(), t_load.wall, t_load.cpu,
                payload / t_load.wall / 1e9, payload / t_load.cpu / 1e9);
    std::printf("| native load of a version 1 file (one frame), best of 3 | %s: %.0f MB payload | %.3f | %.3f | %.2f / %.2f GB/s of payload |\n",
                label.c_str(), payload_v1 / 1e6, t_v1.wall, t_v1.cpu, payload_v1 / t_v1.wall / 1e9,
                payload_v1 / t_v1.cpu / 1e9);
    // For scale: zstd alone, every frame of the version 2 file in turn into one buffer that stays in cache.
    std::string out(8192 * 40 + 1, '\0');
    std::uint64_t meta_size = 0;
    std::memcpy(&meta_size, bytes.data() + 32, 8);
    std::string meta_out(meta_size + 1, '\0');
    const Timing t_zstd = best_of(3, [&] {
      std::size_t at = formats::kNativeHeaderSize + 16;
      bool first = true;
      while (at < bytes.size()) {
        const std::size_t n = ZSTD_findFrameCompressedSize(bytes.data() + at, bytes.size() - at);
        if (ZSTD_isError(n)) break;
        std::string& into = first ? meta_out : out;
        ZSTD_decompress(into.data(), into.size(), bytes.data() + at, n);
        at += n;
        first = false;
      }
    });
    std::printf("| zstd decompression alone, one thread (for scale) | %s | %.3f | %.3f | %.2f / %.2f GB/s of payload |\n",
                label.c_str(), t_zstd.wall, t_zstd.cpu, payload / t_zstd.wall / 1e9, payload / t_zstd.cpu / 1e9);
    std::filesystem::remove(path_v1);
  };
  native_round(*ten, std::to_string(span_count / 1000000) + "M-span engine-like trace");
  ten.reset();
  native_round(*big_trace, "generated Kineto trace");
  big_trace.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
