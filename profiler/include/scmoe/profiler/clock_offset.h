// The clock offset between two processes, estimated the way NTP does it: the reference process notes
// its clock when it sends a ping (t0) and when the reply arrives (t3); the peer notes its own clock when
// the ping arrives (t1) and replies at once. If both legs take the same time, the peer's clock reads
// t1 = reference + offset at the reference's (t0 + t3) / 2, so offset = t1 - (t0 + t3) / 2, wrong by at
// most half the round trip t3 - t0 (the legs' difference). Of several pings the one with the shortest
// round trip bounds the error best (the others waited in a queue on one of the legs).
#pragma once

#include <cstdint>
#include <span>

namespace scmoe::prof {

struct ClockSample {
  std::int64_t sent_ns = 0;      // t0, reference clock
  std::int64_t peer_ns = 0;      // t1, peer clock, when the ping arrived
  std::int64_t received_ns = 0;  // t3, reference clock
};

struct ClockOffset {
  std::int64_t offset_ns = 0;      // peer clock - reference clock
  std::int64_t round_trip_ns = 0;  // of the sample used: the offset is exact to +-round_trip_ns / 2
};

// From the sample with the shortest round trip; {0, 0} for no samples.
ClockOffset estimate_clock_offset(std::span<const ClockSample> samples);

}  // namespace scmoe::prof
