#include "scmoe/ui/span_search.h"

#include <algorithm>
#include <regex>

namespace scmoe::ui {

SearchResult search_spans(const prof::Trace& trace, const std::string& pattern) {
  SearchResult result;
  if (pattern.empty()) return result;
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript | std::regex::icase);
  } catch (const std::regex_error& e) {
    result.error = "invalid regular expression '" + pattern + "': " + e.what();
    return result;
  }
  std::vector<char> name_matches(trace.strings.size(), 0);
  for (std::uint32_t id = 0; id < trace.strings.size(); ++id) {
    const std::string_view name = trace.strings.view(id);
    name_matches[id] = std::regex_search(name.begin(), name.end(), re) ? 1 : 0;
  }
  for (std::uint32_t t = 0; t < trace.tracks.size(); ++t) {
    const auto& spans = trace.tracks[t].spans;
    for (std::uint32_t s = 0; s < spans.size(); ++s) {
      if (spans[s].name < name_matches.size() && name_matches[spans[s].name]) result.matches.push_back({t, s});
    }
  }
  std::stable_sort(result.matches.begin(), result.matches.end(), [&](prof::SpanRef a, prof::SpanRef b) {
    const auto sa = trace.tracks[a.track].spans[a.span].start_ns;
    const auto sb = trace.tracks[b.track].spans[b.span].start_ns;
    return sa != sb ? sa < sb : a.track < b.track;
  });
  return result;
}

}  // namespace scmoe::ui
