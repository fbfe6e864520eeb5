// Communication/computation overlap per rank, per iteration and over the whole trace.
//
// For one rank (and optionally one iteration):
//   comm       = union of the communication spans (dispatch, combine, other_comm)
//   compute    = union of the computation spans (prof::is_computation: everything on the SMs that is not
//                communication; memcpy/memset count as neither)
//   overlapped = comm ∩ compute         exposed = comm − compute
//   overlap %  = overlapped / comm
// and the same split by phase: dispatch, combine and other_comm each against the compute union.
//
// Over the whole trace this is exactly HolisticTraceAnalysis's communication/computation overlap
// (hta.analyzers.breakdown_analysis get_comm_comp_overlap: per rank, the time GPU communication kernels
// run concurrently with GPU computation kernels divided by the total communication time), because HTA
// also takes the unions over all streams of the rank's GPU kernels. Which tracks count: see
// OverlapOptions::tracks.
#pragma once

#include <cstdint>
#include <vector>

#include "scmoe/profiler/analysis/intervals.h"
#include "scmoe/profiler/analysis/iterations.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::analysis {

inline constexpr std::int32_t kAllRanks = -1;

struct OverlapStats {
  std::int64_t comm_ns = 0;
  std::int64_t compute_ns = 0;
  std::int64_t overlapped_ns = 0;
  std::int64_t exposed_ns = 0;
  // 100 * overlapped / comm; 0 when there is no communication.
  double overlap_percent() const { return comm_ns > 0 ? 100.0 * double(overlapped_ns) / double(comm_ns) : 0.0; }
  OverlapStats& operator+=(const OverlapStats& o);
};

struct OverlapRow {
  std::int32_t rank = 0;                // kAllRanks: sum of the per-rank rows (wall_ns: the longest rank's)
  std::int32_t iteration = kNoIndex;    // kNoIndex: whole trace
  std::int64_t wall_ns = 0;             // extent of the analysed spans (or the iteration window)
  OverlapStats total;                   // all communication
  OverlapStats dispatch;                // comm_ns etc. counting only dispatch spans
  OverlapStats combine;
  OverlapStats other_comm;
};

enum class TrackSelection : std::uint8_t {
  // Per rank: the device-side tracks (engine lanes and CUDA streams). A rank with none uses its host
  // threads instead. CPU ops of an imported PyTorch trace therefore never count as computation next to
  // its GPU kernels, as in HTA.
  Auto,
  All,  // lanes, CUDA streams and host threads of the rank
  // Either way, tracks of any other kind (annotation ranges such as NVTX / user_annotation) are skipped:
  // they label work done elsewhere.

};

struct OverlapOptions {
  TrackSelection tracks = TrackSelection::Auto;
  bool per_iteration = true;  // false: whole-trace rows only (cheaper)
};

struct OverlapReport {
  IterationSource iteration_source = IterationSource::None;
  std::vector<OverlapRow> whole_trace;    // one row per rank (ascending), then a kAllRanks row if > 1 rank
  std::vector<OverlapRow> per_iteration;  // sorted by (rank, iteration)
};

OverlapReport analyze_overlap(const Trace& trace, const OverlapOptions& options = {});

// The unions behind the numbers, for drawing an overlap band (comm only / overlapped / compute only).
struct RankUnions {
  std::int32_t rank = 0;
  IntervalSet compute;
  IntervalSet dispatch;
  IntervalSet combine;
  IntervalSet other_comm;
  IntervalSet comm() const;
};
std::vector<RankUnions> rank_unions(const Trace& trace, TrackSelection tracks = TrackSelection::Auto);

// Indices of the tracks of `rank` that the overlap analysis reads under `selection`.
std::vector<std::uint32_t> selected_tracks(const Trace& trace, std::int32_t rank, TrackSelection selection);
// Ranks present in the trace's tracks, ascending.
std::vector<std::int32_t> ranks_of(const Trace& trace);

}  // namespace scmoe::prof::analysis
