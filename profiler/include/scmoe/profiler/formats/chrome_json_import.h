// Import of Chrome trace event JSON (the format of chrome://tracing, Perfetto's JSON importer and the
// PyTorch profiler / Kineto), including ScMoE Studio's own Chrome export (which round-trips exactly).
//
// What becomes what:
//  - ph X, B/E pairs: spans. Kineto GPU events (cat kernel / gpu_memcpy / gpu_memset, or any event with
//    args "device" and "stream") go to a CudaStream track per (device, stream); host events to a
//    HostThread track per (pid, tid). Ranges that only label work (cat user_annotation,
//    gpu_user_annotation, Trace; instant events) go to Annotation tracks beside them.
//  - Category: gpu_memcpy -> memcpy, gpu_memset -> memset, otherwise the classification rules (default
//    other), then NCCL transfers inside dispatch/combine GPU annotations take that phase.
//  - ph s/t/f: flows, bound to the enclosing slice (bp "e") or the next slice on their thread, paired by
//    (cat, id); ac2g / async_cpu_to_gpu flows are launch flows.
//  - ph M: process_name, thread_name, process_sort_index, thread_sort_index (track names and order).
//  - distributedInfo.rank: the rank of every track; baseTimeNanoseconds is added to all times.
//  - Other top-level scalars (schemaVersion, traceName, ...) and distributedInfo fields: Trace::metadata.
//  - Unsupported phases (async b/e/n, counters C, ...) are counted in metadata "skipped_events".
// Times: "ts"/"dur" are microseconds; they are converted from their decimal text to int64 ns exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "scmoe/profiler/classify.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::formats {

struct ChromeJsonImport {
  std::string error;          // "" on success; else "<source>: byte N: <what was expected>"
  bool cancelled = false;
  std::optional<std::int32_t> declared_rank;  // distributedInfo.rank, when the file has it
  std::size_t pieces = 1;     // how many documents the file was parsed as (1: whole; see chunk_bytes)
};

// The traceEvents array is parsed in pieces of about this many bytes, which keeps the parser's memory
// small and warm (see parse_in_pieces); 0 parses the document whole. Both give the same trace and errors.
// The pieces between the first and the last are parsed on a second thread while the calling thread builds
// the trace from the piece before (not on a one-core machine, nor with SCMOE_IMPORT_THREADS=1).
inline constexpr std::size_t kDefaultJsonChunkBytes = std::size_t{512} << 10;

// Parses `json` (a whole document; `json.capacity()` may be grown for simdjson's padding, and its bytes are
// briefly written over while the import runs, then restored) into `out`, which should be empty. `source`
// names the file in errors. `progress(bytes_done)` is called now and then; when it returns false the import
// stops with cancelled = true.
ChromeJsonImport import_chrome_json(std::string& json, const std::string& source,
                                    const ClassificationRules& rules, Trace& out,
                                    const std::function<bool(std::size_t)>& progress = {},
                                    std::size_t chunk_bytes = kDefaultJsonChunkBytes);

}  // namespace scmoe::prof::formats
