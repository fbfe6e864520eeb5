#include "scmoe/profiler/clock_offset.h"

namespace scmoe::prof {

ClockOffset estimate_clock_offset(std::span<const ClockSample> samples) {
  ClockOffset best;
  bool found = false;
  for (const ClockSample& s : samples) {
    const std::int64_t round_trip = s.received_ns - s.sent_ns;
    if (round_trip < 0 || (found && round_trip >= best.round_trip_ns)) continue;
    // The midpoint without overflow: t0 + (t3 - t0) / 2.
    best = {s.peer_ns - (s.sent_ns + round_trip / 2), round_trip};
    found = true;
  }
  return best;
}

}  // namespace scmoe::prof
