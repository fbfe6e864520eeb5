// The start of a multi-process run, through the run's store (gloo_store.h), before any transport exists:
//   1. every rank claims its rank (two processes started as one rank: an error naming it);
//   2. every rank says hello (world size, boot id, config) and rank 0 checks them all: a rank missing
//      after the timeout, another world size, another config (the keys that differ): one error, written
//      as the run's abort message so every rank reports the same;
//   3. rank 0 pings every rank through the store (8 round trips each) and publishes every rank's clock
//      offset (prof::estimate_clock_offset), so every rank merges the traces the same way.
// Keys: scmoe/claim/<r>, scmoe/hello/<r>, scmoe/verdict, scmoe/ping/<r>/<i>, scmoe/pong/<r>/<i>, scmoe/clocks.
#pragma once

#include <string>
#include <vector>

#include "parallel/abort_signal.h"
#include "parallel/gloo_store.h"
#include "scmoe/profiler/clock_offset.h"

namespace scmoe::engine {

struct RankClock {
  prof::ClockOffset estimate;     // this rank's clock - rank 0's, from the pings
  bool same_boot_clock = true;    // same machine (boot id) as rank 0: one CLOCK_MONOTONIC
};

// Every rank's clock, the same on every rank. `config_json`: the run's config without this rank's place
// (rank, local_device, rendezvous), which must be identical on every rank. Throws RankFailure (the run's
// abort message) or Cancelled.
std::vector<RankClock> meet(RunStore& store, int rank, int world, const std::string& config_json,
                            const AbortSignal& abort);

// The keys whose values differ between two configs' JSON texts, as "key: A on rank 0, B on rank r"
// (at most three, then "and N more").
std::string config_difference(const std::string& rank0_json, const std::string& other_json, int other_rank);

}  // namespace scmoe::engine
