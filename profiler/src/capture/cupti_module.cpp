// libscmoe_cupti: the only code that touches CUPTI. It enables the activity kinds, hands CUPTI 4-8 MiB
// buffers, and copies each completed buffer's records into a CuptiCapture (plain data; the profiler turns
// it into spans). Loaded with dlopen by CuptiCollector, so nothing else needs libcupti at load time.
#include <cupti.h>
#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "cupti_module_abi.h"
#include "scmoe/profiler/capture/host_collector.h"

namespace {

using scmoe::prof::capture::CuptiApiCall;
using scmoe::prof::capture::CuptiCapture;
using scmoe::prof::capture::CuptiDeviceActivity;
using scmoe::prof::capture::CuptiMarkerRange;
using scmoe::prof::capture::CuptiSynchronization;

// The newest record layout of each kind in the CUPTI these headers belong to. CUPTI writes records in the
// layout of the version it was built as, so module and libcupti must come from the same toolkit (the
// module links the libcupti of the headers it was compiled with).
#if CUPTI_API_VERSION >= 130000
using KernelRecord = CUpti_ActivityKernel10;
using MemcpyRecord = CUpti_ActivityMemcpy6;
using SyncRecord = CUpti_ActivitySynchronization2;
#else
using KernelRecord = CUpti_ActivityKernel9;
using MemcpyRecord = CUpti_ActivityMemcpy5;
using SyncRecord = CUpti_ActivitySynchronization;
#endif
using MemsetRecord = CUpti_ActivityMemset4;
using MarkerRecord = CUpti_ActivityMarker2;
using ApiRecord = CUpti_ActivityAPI;

constexpr CUpti_ActivityKind kKinds[] = {
    CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,  CUPTI_ACTIVITY_KIND_MEMSET,
    CUPTI_ACTIVITY_KIND_SYNCHRONIZATION,   CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_ACTIVITY_KIND_DRIVER,
    CUPTI_ACTIVITY_KIND_MARKER,
};
constexpr const char* kKindNames[] = {"CONCURRENT_KERNEL", "MEMCPY", "MEMSET", "SYNCHRONIZATION",
                                      "RUNTIME",           "DRIVER", "MARKER"};
static_assert(std::size(kKinds) == std::size(kKindNames));

struct OpenMarker {
  std::string name;
  std::string domain;
  std::uint64_t start = 0;
  std::uint32_t thread = 0;
};

struct State {
  std::mutex mutex;  // guards everything below; CUPTI calls buffer_completed from its own thread
  CuptiCapture pending;
  std::unordered_map<std::uint32_t, OpenMarker> open_markers;  // NVTX range id -> its start
  std::size_t buffer_bytes = 8u * 1024 * 1024;
  bool started = false;
};

State& state() {
  static State s;
  return s;
}

void write_error(char* error, std::size_t size, const std::string& text) {
  if (size == 0) return;
  std::strncpy(error, text.c_str(), size - 1);
  error[size - 1] = '\0';
}

std::string cupti_message(const char* call, CUptiResult result) {
  const char* text = nullptr;
  if (cuptiGetResultString(result, &text) != CUPTI_SUCCESS || text == nullptr) text = "unknown CUPTI error";
  return std::string(call) + " failed: " + text + " (" + std::to_string(static_cast<int>(result)) + ")";
}

const char* memcpy_name(std::uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "Memcpy HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "Memcpy DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "Memcpy DtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOH: return "Memcpy HtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP: return "Memcpy PtoP";
    default: return "Memcpy";
  }
}

const char* sync_name(CUpti_ActivitySynchronizationType type) {
  switch (type) {
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_EVENT_SYNCHRONIZE: return "event synchronize";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_STREAM_WAIT_EVENT: return "stream wait event";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_STREAM_SYNCHRONIZE: return "stream synchronize";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_CONTEXT_SYNCHRONIZE: return "context synchronize";
    default: return "synchronize";
  }
}

// "cudaLaunchKernel_v7000" -> "cudaLaunchKernel".
std::string api_name(bool driver, CUpti_CallbackId cbid) {
  const char* raw = nullptr;
  const auto domain = driver ? CUPTI_CB_DOMAIN_DRIVER_API : CUPTI_CB_DOMAIN_RUNTIME_API;
  if (cuptiGetCallbackName(domain, cbid, &raw) != CUPTI_SUCCESS || raw == nullptr) {
    return std::string(driver ? "driver call " : "runtime call ") + std::to_string(cbid);
  }
  std::string name(raw);
  if (const auto v = name.rfind("_v"); v != std::string::npos && v + 2 < name.size() &&
                                       name.find_first_not_of("0123456789", v + 2) == std::string::npos) {
    name.resize(v);
  }
  return name;
}

// Copies one record; called with the state lock held. Dispatches on the record's kind.
void add_record(State& s, const CUpti_Activity* record) {
  switch (record->kind) {
    case CUPTI_ACTIVITY_KIND_KERNEL:
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
      const auto* k = reinterpret_cast<const KernelRecord*>(record);
      s.pending.device.push_back(CuptiDeviceActivity{CuptiDeviceActivity::Kind::Kernel, k->name ? k->name : "kernel",
                                                     k->start, k->end, k->deviceId, k->streamId, k->correlationId, 0});
      break;
    }
    case CUPTI_ACTIVITY_KIND_MEMCPY: {
      const auto* m = reinterpret_cast<const MemcpyRecord*>(record);
      s.pending.device.push_back(CuptiDeviceActivity{CuptiDeviceActivity::Kind::Memcpy, memcpy_name(m->copyKind),
                                                     m->start, m->end, m->deviceId, m->streamId, m->correlationId,
                                                     m->bytes});
      break;
    }
    case CUPTI_ACTIVITY_KIND_MEMSET: {
      const auto* m = reinterpret_cast<const MemsetRecord*>(record);
      s.pending.device.push_back(CuptiDeviceActivity{CuptiDeviceActivity::Kind::Memset, "Memset", m->start, m->end,
                                                     m->deviceId, m->streamId, m->correlationId, m->bytes});
      break;
    }
    case CUPTI_ACTIVITY_KIND_SYNCHRONIZATION: {
      const auto* y = reinterpret_cast<const SyncRecord*>(record);
      s.pending.sync.push_back(CuptiSynchronization{sync_name(y->type), y->start, y->end, y->correlationId, y->streamId});
      break;
    }
    case CUPTI_ACTIVITY_KIND_RUNTIME:
    case CUPTI_ACTIVITY_KIND_DRIVER: {
      const auto* a = reinterpret_cast<const ApiRecord*>(record);
      const bool driver = record->kind == CUPTI_ACTIVITY_KIND_DRIVER;
      s.pending.api.push_back(CuptiApiCall{api_name(driver, a->cbid), a->start, a->end, a->threadId, a->correlationId, driver});
      break;
    }
    case CUPTI_ACTIVITY_KIND_MARKER: {
      const auto* m = reinterpret_cast<const MarkerRecord*>(record);
      if ((m->flags & CUPTI_ACTIVITY_FLAG_MARKER_START) != 0) {
        const std::uint32_t thread =
            m->objectKind == CUPTI_ACTIVITY_OBJECT_THREAD ? m->objectId.pt.threadId : 0;
        s.open_markers[m->id] = OpenMarker{m->name ? m->name : "", m->domain ? m->domain : "", m->timestamp, thread};
      } else if ((m->flags & CUPTI_ACTIVITY_FLAG_MARKER_END) != 0) {
        auto it = s.open_markers.find(m->id);
        if (it == s.open_markers.end()) {
          ++s.pending.dropped_records;  // an end without its start: the start record was lost
          break;
        }
        s.pending.markers.push_back(CuptiMarkerRange{std::move(it->second.name), std::move(it->second.domain),
                                                     it->second.start, m->timestamp, it->second.thread});
        s.open_markers.erase(it);
      }
      break;  // instantaneous markers (nvtxMark) are not ranges: nothing to draw a span for
    }
    default:
      break;  // kinds this module does not enable
  }
}

void CUPTIAPI buffer_requested(std::uint8_t** buffer, std::size_t* size, std::size_t* max_records) {
  const std::size_t bytes = state().buffer_bytes;
  *buffer = static_cast<std::uint8_t*>(std::aligned_alloc(8, bytes));  // CUPTI needs 8-byte alignment
  *size = *buffer != nullptr ? bytes : 0;
  *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext context, std::uint32_t stream, std::uint8_t* buffer, std::size_t,
                               std::size_t valid) {
  State& s = state();
  {
    std::lock_guard lock(s.mutex);
    CUpti_Activity* record = nullptr;
    while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) add_record(s, record);
    std::size_t dropped = 0;
    if (cuptiActivityGetNumDroppedRecords(context, stream, &dropped) == CUPTI_SUCCESS) {
      s.pending.dropped_records += dropped;
    }
  }
  std::free(buffer);
}

// host steady_clock - CUPTI clock, sampled with the CUPTI read between two host reads.
bool clock_offset(std::int64_t& offset, std::string& error) {
  const std::int64_t before = scmoe::prof::capture::HostCollector::now_ns();
  std::uint64_t cupti_now = 0;
  const CUptiResult r = cuptiGetTimestamp(&cupti_now);
  const std::int64_t after = scmoe::prof::capture::HostCollector::now_ns();
  if (r != CUPTI_SUCCESS) {
    error = cupti_message("cuptiGetTimestamp", r);
    return false;
  }
  offset = before + (after - before) / 2 - static_cast<std::int64_t>(cupti_now);
  return true;
}

// NVTX ranges reach CUPTI only when NVTX finds an injection library on its first call; this module loads
// libcupti privately (RTLD_LOCAL), where NVTX's symbol lookup cannot see it, so point NVTX at the libcupti
// this module uses - unless the user chose another injection. Effective when no NVTX call happened yet.
void offer_cupti_to_nvtx() {
  if (std::getenv("NVTX_INJECTION64_PATH") != nullptr) return;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&cuptiActivityEnable), &info) != 0 && info.dli_fname != nullptr) {
    setenv("NVTX_INJECTION64_PATH", info.dli_fname, /*overwrite=*/0);
  }
}

bool module_start(std::size_t buffer_bytes, char* error, std::size_t error_size) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.started) {
    write_error(error, error_size, "CUPTI capture is already running in this process");
    return false;
  }
  s.buffer_bytes = buffer_bytes;
  offer_cupti_to_nvtx();
  CUptiResult r = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
  if (r != CUPTI_SUCCESS) {
    write_error(error, error_size, cupti_message("cuptiActivityRegisterCallbacks", r));
    return false;
  }
  for (std::size_t i = 0; i < std::size(kKinds); ++i) {
    r = cuptiActivityEnable(kKinds[i]);
    if (r != CUPTI_SUCCESS) {
      for (std::size_t j = 0; j < i; ++j) cuptiActivityDisable(kKinds[j]);
      write_error(error, error_size,
                  cupti_message(("cuptiActivityEnable(" + std::string(kKindNames[i]) + ")").c_str(), r) +
                      (r == CUPTI_ERROR_UNKNOWN ? " - is a CUDA driver and device present?" : ""));
      return false;
    }
  }
  s.started = true;
  return true;
}

bool hand_over(CuptiCapture* out, bool stop, char* error, std::size_t error_size) {
  State& s = state();
  std::string message;
  if (stop) {
    for (CUpti_ActivityKind kind : kKinds) cuptiActivityDisable(kind);
  }
  // Outside the lock: a forced flush calls buffer_completed, which takes it.
  const CUptiResult r = cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  if (r != CUPTI_SUCCESS) {
    write_error(error, error_size, cupti_message("cuptiActivityFlushAll", r));
    return false;
  }
  std::int64_t offset = 0;
  if (!clock_offset(offset, message)) {
    write_error(error, error_size, message);
    return false;
  }
  std::lock_guard lock(s.mutex);
  auto append = [](auto& to, auto& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
    from.clear();
  };
  append(out->device, s.pending.device);
  append(out->api, s.pending.api);
  append(out->sync, s.pending.sync);
  append(out->markers, s.pending.markers);
  out->dropped_records += std::exchange(s.pending.dropped_records, 0);
  out->clock_offset_ns = offset;
  if (stop) {
    out->dropped_records += s.open_markers.size();  // ranges still open when capture ended
    s.open_markers.clear();
    s.started = false;
  }
  return true;
}

bool module_flush(CuptiCapture* out, char* error, std::size_t error_size) { return hand_over(out, false, error, error_size); }
bool module_stop(CuptiCapture* out, char* error, std::size_t error_size) { return hand_over(out, true, error, error_size); }

constexpr ScmoeCuptiModule kModule{kScmoeCuptiAbiVersion, module_start, module_flush, module_stop};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ScmoeCuptiModule* scmoe_cupti_module() { return &kModule; }
