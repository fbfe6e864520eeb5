// One colour per category, shared by every renderer (HTML/SVG reports here, the Qt timeline in ui/), so a
// category looks the same everywhere.
#pragma once

#include <cstdint>
#include <string>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof {

// 0xRRGGBB.
std::uint32_t category_rgb(Category c);
// "#rrggbb".
std::string category_hex(Category c);

}  // namespace scmoe::prof
