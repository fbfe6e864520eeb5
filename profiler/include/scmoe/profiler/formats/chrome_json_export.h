// Chrome trace event JSON export that Perfetto and chrome://tracing open, written as a stream (no DOM,
// so ten million spans need no more memory than the trace itself).
//
//  - One pid per (rank, device): "rank 0 GPU 1", "rank 0 host"; process_name / process_sort_index.
//  - One tid per track; the format forbids partially overlapping X events on one tid, so spans of a
//    track that overlap without nesting go to extra tids named "<track> (overlap k)".
//  - ts / dur in microseconds with nanosecond precision ("ts":1234.567); cat = category name; layer,
//    iteration, op_instance, flags, depth in args next to the span's own args.
//  - Flows as ph "s" / "f" (bp "e") bound to the span starts.
//  - A "scmoe" header and each track's identity (chrome_json_schema.h) so the import is exact.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::formats {

// Streams the JSON document to `sink` in chunks.
void write_chrome_json(const Trace& trace, const std::function<void(std::string_view)>& sink);

// Writes atomically; gzip-compressed when `gzip`. Returns "" or an error.
std::string export_chrome_json(const Trace& trace, const std::string& path, bool gzip);

// Appends s as a JSON string literal (quotes included), escaping as needed; bytes that are not valid UTF-8
// are written as \u00XX so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view s);

}  // namespace scmoe::prof::formats
