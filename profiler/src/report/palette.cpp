#include "scmoe/profiler/report/palette.h"

#include <array>
#include <cstdio>

namespace scmoe::prof {

namespace {
// Compute in blues/greens/yellows, communication in reds/purples, copies in greys: the eye separates the
// two lanes' kinds of work at a glance, which is the whole point of the timeline.
constexpr std::array<std::uint32_t, kCategoryCount> kRgb = {
    0x4e79a7,  // attention
    0x59a14f,  // mlp
    0xf28e2b,  // expert
    0xedc948,  // shared_expert
    0x76b7b2,  // gate
    0x9c755f,  // encode
    0xbab0ac,  // decode
    0xe15759,  // dispatch
    0xb07aa1,  // combine
    0xff9da7,  // other_comm
    0x8c8c8c,  // memcpy
    0xb4b4b4,  // memset
    0x6b6ecf,  // other
};
}  // namespace

std::uint32_t category_rgb(Category c) { return kRgb[static_cast<std::size_t>(c)]; }

std::string category_hex(Category c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%06x", static_cast<unsigned>(category_rgb(c)));
  return buf;
}

}  // namespace scmoe::prof
