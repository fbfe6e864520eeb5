// Ranks side by side: each collective matched across the ranks of a multi-rank trace (a file per rank, or
// Kineto's distributedInfo), with the wait it cost and the rank everyone waited for.
//
// A collective instance is the communication kernel (or engine comm span) that each rank ran for one
// collective call. Instances are matched across ranks by
//  - sequence number, where every communication span of a communicator carries one ("Seq" / "seq" args,
//    as PyTorch's record_param_comms writes them): key (communicator, sequence, name);
//  - otherwise by order: the k-th span of a name on one communicator of one rank matches the k-th of the
//    other ranks. The communicator is the "Process Group Name" arg where the trace has it, else one per
//    rank; the name is the kernel name without its argument list.
// For each instance: arrival = the span's start on each rank; wait = last arrival - first arrival; the
// straggler is the rank that arrived last. A rank that arrived before the last one spent
// [arrival, min(end, last arrival)] waiting for the others rather than moving data; the part of that
// waiting which is exposed (not hidden by the rank's computation) is compared with the rank's exposed
// communication (analysis::OverlapStats::exposed_ns, per iteration and over the whole trace).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::analysis {

struct CollectiveArrival {
  std::int32_t rank = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
};

struct CollectiveInstance {
  std::string name;          // kernel / span name without its argument list
  std::string communicator;  // "Process Group Name", or "" (one communicator per rank)
  std::int64_t sequence = 0; // the sequence number, or the occurrence index when matched by order
  std::int32_t iteration = kNoIndex;
  std::vector<CollectiveArrival> arrivals;  // one per rank, ascending rank
  std::int64_t wait_ns = 0;                 // last arrival - first arrival
  std::int32_t straggler = kNoIndex;        // the rank that arrived last (lowest rank on a tie)
};

struct IterationCollectives {
  std::int32_t iteration = kNoIndex;  // kNoIndex: the trace has no iterations
  std::size_t collectives = 0;
  std::int64_t total_wait_ns = 0;
  std::int64_t max_wait_ns = 0;
  std::int32_t straggler = kNoIndex;  // the rank that arrived last most often (lowest rank on a tie)
  std::size_t straggler_count = 0;    // how often it did
};

struct RankWait {
  std::int32_t rank = 0;
  std::int32_t iteration = kNoIndex;  // kNoIndex: the whole trace
  std::int64_t exposed_ns = 0;        // exposed communication of the rank (OverlapStats::exposed_ns)
  std::int64_t exposed_wait_ns = 0;   // the part of it spent waiting in collectives for later ranks
  // 100 * exposed_wait / exposed; 0 without exposed communication.
  double wait_percent() const { return exposed_ns > 0 ? 100.0 * double(exposed_wait_ns) / double(exposed_ns) : 0.0; }
};

struct CollectivesReport {
  std::vector<std::int32_t> ranks;
  bool by_sequence = false;                      // some communicator was matched by sequence numbers
  std::vector<CollectiveInstance> collectives;   // found on two ranks or more, by first arrival
  std::size_t unmatched = 0;                     // communication spans found on one rank only
  std::vector<IterationCollectives> per_iteration;  // ascending iteration (one kNoIndex row without them)
  std::vector<RankWait> rank_waits;              // whole trace per rank, then per (rank, iteration)
};

// Empty (no ranks) for a trace of fewer than two ranks.
CollectivesReport analyze_collectives(const Trace& trace);

}  // namespace scmoe::prof::analysis
