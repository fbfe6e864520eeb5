#include "scmoe/ui/time_format.h"

#include <cmath>
#include <cstdio>

namespace scmoe::ui {

std::string format_duration(double ns) {
  const double magnitude = std::fabs(ns);
  const char* unit = "ns";
  double value = ns;
  if (magnitude >= 1e9) { value = ns / 1e9; unit = "s"; }
  else if (magnitude >= 1e6) { value = ns / 1e6; unit = "ms"; }
  else if (magnitude >= 1e3) { value = ns / 1e3; unit = "us"; }
  const double v = std::fabs(value);
  const int decimals = unit[0] == 'n' && unit[1] == 's' ? 0 : (v >= 100 ? 0 : (v >= 10 ? 1 : 2));
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*f %s", decimals, value, unit);
  return buffer;
}

std::int64_t ruler_step_ns(double ns_per_px, double min_px) {
  const double wanted = ns_per_px * min_px;
  std::int64_t decade = 1;
  while (true) {
    for (std::int64_t m : {1, 2, 5}) {
      if (double(decade * m) >= wanted) return decade * m;
    }
    if (decade > (std::int64_t{1} << 60) / 10) return decade * 10;
    decade *= 10;
  }
}

}  // namespace scmoe::ui
