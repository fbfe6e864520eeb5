// Qt-free time labels and ruler steps: durations in the unit that keeps 1..999 before the point.
#pragma once

#include <cstdint>
#include <string>

namespace scmoe::ui {

// "850 ns", "12.5 us", "3.20 ms", "1.05 s" (three significant digits).
std::string format_duration(double ns);
// The smallest 1/2/5 x 10^k nanosecond step that puts ticks at least min_px apart.
std::int64_t ruler_step_ns(double ns_per_px, double min_px);

}  // namespace scmoe::ui
