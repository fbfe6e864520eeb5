// Qt-free regex search over span names. The regex runs once per distinct (interned) name, not once per
// span, so searching a million spans with a few thousand names is quick.
#pragma once

#include <string>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::ui {

struct SearchResult {
  std::string error;                   // invalid regex: the message, and no matches
  std::vector<prof::SpanRef> matches;  // sorted by start time, then track
};

// ECMAScript regex, case-insensitive, matched anywhere in the name.
SearchResult search_spans(const prof::Trace& trace, const std::string& pattern);

}  // namespace scmoe::ui
