// One trace from the traces of the processes of one multi-process run (one rank each): each process timed
// its spans with its own steady clock, so every span is first moved onto the first process's clock, then
// the traces are appended (tracks, strings, args and flows re-indexed) into one multi-rank trace.
//
// Metadata of the merged trace: a key every process gave the same value appears once; a key whose values
// differ appears once per process as "<key>.rank<r>". Then, per process r after the first:
//   clock_offset_ns.rank<r>   the offset subtracted from its spans (its clock - the first's)
//   clock_estimate_ns.rank<r> "<offset> +- <half round trip>": what the store round trips measured
//   clock.rank<r>             where the applied offset came from: "same boot clock" (processes of one
//                             machine read one CLOCK_MONOTONIC: 0 is exact, the estimate only checks it)
//                             or "estimated from round trips"
// and "processes" (how many were merged). The rank list has one entry per rank with tracks.
#pragma once

#include <vector>

#include "scmoe/profiler/clock_offset.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof {

struct ProcessTrace {
  Trace trace;
  ClockOffset estimate;           // against the first process; {0, 0} for the first
  bool same_boot_clock = true;    // one machine (one boot): the offset applied is 0
};

// parts[0] is the reference clock. The result is finalized.
Trace merge_process_traces(std::vector<ProcessTrace> parts);

// The offset merge_process_traces subtracts from a process's spans.
std::int64_t applied_offset_ns(const ProcessTrace& part);

}  // namespace scmoe::prof
