// libFuzzer target: the native .scmoe reader. Any bytes must give a trace or an error naming an offset,
// never a crash, a sanitizer report or an allocation the input does not justify. A trace that loads must
// encode and load again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scmoe/profiler/formats/native.h"

using namespace scmoe::prof;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Trace trace;
  const std::string error = formats::decode_native(bytes, "fuzz", trace);
  if (!error.empty()) {
    if (error.find("byte ") == std::string::npos && error.find("memory") == std::string::npos) std::abort();
    return 0;
  }
  const std::string encoded = formats::encode_native(trace);
  Trace again;
  if (!formats::decode_native(encoded, "re-encoded", again).empty() || again.span_count() != trace.span_count()) {
    std::abort();
  }
  return 0;
}
