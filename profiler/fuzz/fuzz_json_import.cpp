// libFuzzer target: the Chrome/Kineto JSON importer. Any input must give a trace or an error, never a
// crash, hang or sanitizer report. Parsed in pieces (a size taken from the input's last byte) it must give
// the same error or the same trace as parsed whole. A trace that imports must also export to Chrome JSON
// and import again with the same number of spans (the exporter's output is always valid).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scmoe/profiler/formats/chrome_json_export.h"
#include "scmoe/profiler/formats/chrome_json_import.h"

using namespace scmoe::prof;

namespace {

bool same_spans(const Trace& a, const Trace& b) {
  if (a.tracks.size() != b.tracks.size() || a.flows.size() != b.flows.size() || a.metadata != b.metadata) return false;
  for (std::size_t t = 0; t < a.tracks.size(); ++t) {
    const auto& x = a.tracks[t].spans;
    const auto& y = b.tracks[t].spans;
    if (x.size() != y.size() || a.tracks[t].info.name != b.tracks[t].info.name) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (x[i].start_ns != y[i].start_ns || x[i].end_ns != y[i].end_ns || a.name_of(x[i]) != b.name_of(y[i]) ||
          x[i].category != y[i].category || (x[i].args == kNoArgs) != (y[i].args == kNoArgs)) {
        return false;
      }
      if (x[i].args == kNoArgs) continue;
      const auto p = a.args[x[i].args];
      const auto q = b.args[y[i].args];
      if (p.size() != q.size()) return false;
      for (std::size_t k = 0; k < p.size(); ++k) {
        if (a.strings.view(p[k].key) != b.strings.view(q[k].key) || p[k].value() != q[k].value()) return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ClassificationRules rules;
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string json = input;
  Trace trace;
  const formats::ChromeJsonImport result = formats::import_chrome_json(json, "fuzz", rules, trace, {}, 0);
  if (json != input) std::abort();
  const std::size_t chunk = size == 0 ? 1 : 1 + data[size - 1] % 128;
  Trace in_pieces;
  const formats::ChromeJsonImport pieces = formats::import_chrome_json(json, "fuzz", rules, in_pieces, {}, chunk);
  if (json != input || pieces.error != result.error || same_spans(trace, in_pieces) == false) std::abort();
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
