#include "scmoe/profiler/capture/cupti_capture.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <unordered_map>

namespace scmoe::prof::capture {

std::string demangle(const std::string& name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : name;
}

void append_cupti_capture(const CuptiCapture& capture, const ClassificationRules& rules, std::int32_t rank,
                          Trace& trace) {
  const std::int64_t offset = capture.clock_offset_ns;
  auto host_time = [offset](std::uint64_t cupti_ns) { return static_cast<std::int64_t>(cupti_ns) + offset; };

  auto host_track = [&](std::uint32_t thread, TrackKind kind, const char* prefix) {
    TrackInfo info;
    info.rank = rank;
    info.kind = kind;
    info.native_id = thread;
    info.name = std::string(prefix) + std::to_string(thread);
    return trace.track_for(info);
  };
  auto push = [&](std::uint32_t track, Span s) {
    trace.tracks[track].spans.push_back(s);
    return SpanRef{track, static_cast<std::uint32_t>(trace.tracks[track].spans.size() - 1)};
  };

  // Host side: API calls (kept by correlation id for launch flows and phase lookup), then waits.
  // A runtime call (cudaLaunchKernel) makes its driver call (cuLaunchKernel) with the same correlation
  // id: the driver span is drawn nested inside the runtime span.
  std::unordered_map<std::uint32_t, bool> has_runtime_call;
  for (const CuptiApiCall& call : capture.api) {
    if (!call.driver && call.correlation != 0) has_runtime_call[call.correlation] = true;
  }
  std::unordered_map<std::uint32_t, SpanRef> launch_of;
  for (const CuptiApiCall& call : capture.api) {
    Span s;
    s.start_ns = host_time(call.start);
    s.end_ns = std::max(s.start_ns, host_time(call.end));
    s.name = trace.strings.intern(call.name);
    s.depth = call.driver && has_runtime_call.count(call.correlation) != 0 ? 1 : 0;
    const SpanRef ref = push(host_track(call.thread, TrackKind::HostThread, "thread "), s);
    if (call.correlation != 0 && s.depth == 0) launch_of[call.correlation] = ref;  // flows start outermost
  }
  for (const CuptiSynchronization& sync : capture.sync) {
    auto launch = launch_of.find(sync.correlation);
    if (launch == launch_of.end()) continue;  // a wait without its API call has no thread to show it on
    Span s;
    s.start_ns = host_time(sync.start);
    s.end_ns = std::max(s.start_ns, host_time(sync.end));
    s.name = trace.strings.intern(sync.what);
    s.depth = static_cast<std::uint16_t>(trace.tracks[launch->second.track].spans[launch->second.span].depth + 1);  // inside the API call that waited
    push(launch->second.track, s);
  }
  for (const CuptiMarkerRange& m : capture.markers) {
    Span s;
    s.start_ns = host_time(m.start);
    s.end_ns = std::max(s.start_ns, host_time(m.end));
    s.name = trace.strings.intern(m.name);
    s.category = rules.classify(m.name, {}, trace.strings, false).value_or(Category::Other);
    push(host_track(m.thread, TrackKind::Annotation, "NVTX thread "), s);
  }

  // Device side.
  Classifier classifier(rules, trace.strings);
  for (const CuptiDeviceActivity& a : capture.device) {
    TrackInfo info;
    info.rank = rank;
    info.device = static_cast<std::int32_t>(a.device);
    info.device_kind = DeviceKind::Gpu;
    info.kind = TrackKind::CudaStream;
    info.native_id = a.stream;
    info.name = "GPU " + std::to_string(a.device) + " stream " + std::to_string(a.stream);
    const std::uint32_t track = trace.track_for(info);

    Span s;
    s.start_ns = host_time(a.start);
    s.end_ns = std::max(s.start_ns, host_time(a.end));
    switch (a.kind) {
      case CuptiDeviceActivity::Kind::Kernel: {
        s.name = trace.strings.intern(demangle(a.name));
        s.category = classifier.classify(s.name, {}, /*on_device=*/true).value_or(Category::Other);
        break;
      }
      case CuptiDeviceActivity::Kind::Memcpy:
        s.name = trace.strings.intern(a.name);
        s.category = Category::Memcpy;
        break;
      case CuptiDeviceActivity::Kind::Memset:
        s.name = trace.strings.intern(a.name);
        s.category = Category::Memset;
        break;
    }
    if (a.bytes != 0) s.args = trace.add_args({Arg{trace.strings.intern("bytes"), std::to_string(a.bytes)}});

    const auto launch = launch_of.find(a.correlation);
    const SpanRef kernel = push(track, s);
    if (launch != launch_of.end()) trace.flows.push_back(Flow{launch->second, kernel, FlowKind::Launch});
  }

  bool has_rank = false;
  for (const RankInfo& r : trace.ranks) has_rank |= r.rank == rank;
  if (!has_rank) trace.ranks.push_back(RankInfo{rank, "rank " + std::to_string(rank)});
  trace.dropped_records += capture.dropped_records;
  trace.finalize();
  // NCCL transfers and the emulated link's delay kernel take the phase of the NVTX range around the call
  // that launched them (the launch flows above), as kernels of imported traces do.
  apply_phase_annotations(trace, rules);
}

}  // namespace scmoe::prof::capture
