// libFuzzer target: the Chrome/Kineto JSON importer. Any input must give a trace or an error, never a
// crash, hang or sanitizer report. A trace that imports must also export to Chrome JSON and import again
// with the same number of spans (the exporter's output is always valid).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scmoe/profiler/formats/chrome_json_export.h"
#include "scmoe/profiler/formats/chrome_json_import.h"

using namespace scmoe::prof;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ClassificationRules rules;
  std::string json(reinterpret_cast<const char*>(data), size);
  Trace trace;
  const formats::ChromeJsonImport result = formats::import_chrome_json(json, "fuzz", rules, trace);
  if (!result.error.empty()) return 0;
  for (const Track& t : trace.tracks) {
    for (const Span& s : t.spans) {
      if (s.end_ns < s.start_ns || s.name >= trace.strings.size()) std::abort();
    }
  }
  for (const Flow& f : trace.flows) {
    if (f.from.track >= trace.tracks.size() || f.from.span >= trace.tracks[f.from.track].spans.size() ||
        f.to.track >= trace.tracks.size() || f.to.span >= trace.tracks[f.to.track].spans.size()) {
      std::abort();
    }
  }
  std::string exported;
  formats::write_chrome_json(trace, [&](std::string_view chunk) { exported.append(chunk); });
  Trace again;
  const formats::ChromeJsonImport second = formats::import_chrome_json(exported, "re-import", rules, again);
  if (!second.error.empty() || again.span_count() != trace.span_count()) std::abort();
  return 0;
}
