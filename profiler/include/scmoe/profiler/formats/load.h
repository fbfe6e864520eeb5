// The one entry point the studio and the CLI use to open and save traces, whatever the format.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "scmoe/profiler/classify.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::formats {

struct LoadOptions {
  ClassificationRules rules;                      // used for imported traces; defaults: the presets
  std::function<bool(double fraction)> progress;  // 0..1 over all files; return false to cancel
};

struct LoadResult {
  std::optional<Trace> trace;  // set on success
  std::string error;           // "" on success; names the file and byte offset otherwise
  bool cancelled = false;
};

// Opens one or more files and returns one trace. The format is sniffed from the content: the native
// magic "SCMOETRC", gzip (then Chrome/Kineto JSON inside), or Chrome/Kineto JSON. Several files (one per
// rank, as PyTorch's profiler writes them) become one multi-rank trace: each file's rank comes from its
// distributedInfo, else from its position in `paths`; two files with the same rank are an error.
LoadResult load_traces(const std::vector<std::string>& paths, const LoadOptions& options = {});

// Saves by extension: .scmoe (native), .json / .json.gz (Chrome trace), .csv (spans). Atomic.
// Returns "" or an error.
std::string save_trace(const Trace& trace, const std::string& path);
// "" when save_trace knows the extension of `path`, else the error it would give (check before a long load).
std::string output_format_error(const std::string& path);

// Appends `src` to `dst`: strings re-interned, args, tracks and flows re-indexed, ranks, metadata and
// dropped records appended.
void append_trace(Trace& dst, Trace&& src);

}  // namespace scmoe::prof::formats
