#include "scmoe/profiler/trace_merge.h"

#include <algorithm>
#include <map>
#include <string>

#include "scmoe/profiler/formats/load.h"

namespace scmoe::prof {

namespace {

// A process's rank: its tracks' (its rank list may name ranks it has no tracks for, as the host collector's
// 0..max does).
std::int32_t rank_of(const ProcessTrace& part, std::size_t index) {
  return part.trace.tracks.empty() ? static_cast<std::int32_t>(index) : part.trace.tracks.front().info.rank;
}

// One entry per rank that has tracks, in rank order, with the first label given for it.
std::vector<RankInfo> ranks_with_tracks(const Trace& merged) {
  std::map<std::int32_t, RankInfo> by_rank;
  for (const RankInfo& r : merged.ranks) by_rank.try_emplace(r.rank, r);
  std::vector<RankInfo> out;
  for (const Track& t : merged.tracks) {
    if (std::any_of(out.begin(), out.end(), [&](const RankInfo& r) { return r.rank == t.info.rank; })) continue;
    const auto it = by_rank.find(t.info.rank);
    out.push_back(it != by_rank.end() ? it->second : RankInfo{t.info.rank, "rank " + std::to_string(t.info.rank)});
  }
  std::sort(out.begin(), out.end(), [](const RankInfo& a, const RankInfo& b) { return a.rank < b.rank; });
  return out;
}

// Keys with one value across the processes once, the others once per process with ".rank<r>".
std::vector<std::pair<std::string, std::string>> merged_metadata(const std::vector<ProcessTrace>& parts) {
  std::map<std::string, std::vector<std::string>> values;  // key -> its distinct values
  std::vector<std::string> order;                          // keys in first-seen order
  for (const ProcessTrace& part : parts) {
    for (const auto& [key, value] : part.trace.metadata) {
      auto [it, added] = values.try_emplace(key);
      if (added) order.push_back(key);
      if (std::find(it->second.begin(), it->second.end(), value) == it->second.end()) it->second.push_back(value);
    }
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& key : order) {
    if (values[key].size() == 1) {
      out.emplace_back(key, values[key].front());
      continue;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
      for (const auto& [k, value] : parts[i].trace.metadata) {
        if (k == key) out.emplace_back(key + ".rank" + std::to_string(rank_of(parts[i], i)), value);
      }
    }
  }
  return out;
}

}  // namespace

std::int64_t applied_offset_ns(const ProcessTrace& part) { return part.same_boot_clock ? 0 : part.estimate.offset_ns; }

Trace merge_process_traces(std::vector<ProcessTrace> parts) {
  Trace merged;
  merged.metadata = merged_metadata(parts);
  std::vector<std::pair<std::string, std::string>> clocks;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    ProcessTrace& part = parts[i];
    const std::int64_t offset = applied_offset_ns(part);
    for (Track& track : part.trace.tracks) {
      for (Span& span : track.spans) {
        span.start_ns -= offset;
        span.end_ns -= offset;
      }
    }
    if (i > 0) {
      const std::string suffix = ".rank" + std::to_string(rank_of(part, i));
      clocks.emplace_back("clock_offset_ns" + suffix, std::to_string(offset));
      clocks.emplace_back("clock_estimate_ns" + suffix, std::to_string(part.estimate.offset_ns) + " +- " +
                                                            std::to_string(part.estimate.round_trip_ns / 2));
      clocks.emplace_back("clock" + suffix, part.same_boot_clock ? "same boot clock" : "estimated from round trips");
    }
    part.trace.metadata.clear();
    formats::append_trace(merged, std::move(part.trace));
  }
  merged.ranks = ranks_with_tracks(merged);
  merged.metadata.emplace_back("processes", std::to_string(parts.size()));
  merged.metadata.insert(merged.metadata.end(), clocks.begin(), clocks.end());
  merged.finalize();
  return merged;
}

}  // namespace scmoe::prof
