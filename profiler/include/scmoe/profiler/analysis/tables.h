// Analysis results as tables of text: one layout shared by the CLI's aligned text, the CSV files and
// the studio's table views, so every surface shows the same columns.
#pragma once

#include <string>
#include <vector>

#include "scmoe/profiler/analysis/breakdown.h"
#include "scmoe/profiler/analysis/collectives.h"
#include "scmoe/profiler/analysis/compare.h"
#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/analysis/rule_coverage.h"

namespace scmoe::prof::analysis {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// How times are written: Nanoseconds as exact integers (CSV, machine use), Microseconds with three
// decimals (reading). Percentages always have one decimal.
enum class TimeFormat { Nanoseconds, Microseconds };

// Whole-trace rows (rank "all" = sum over ranks) or per-iteration rows, with the dispatch / combine /
// other_comm split.
Table overlap_table(const std::vector<OverlapRow>& rows, TimeFormat format);
// `top` > 0 keeps only the first `top` rows (the breakdown is sorted by total time).
Table breakdown_table(const std::vector<OpStats>& ops, TimeFormat format, std::size_t top = 0);
Table comparison_ops_table(const Comparison& c, TimeFormat format, std::size_t top = 0);
Table comparison_phases_table(const Comparison& c, TimeFormat format);
// The work that fell into "other", longest total first (share = of all analysed work).
Table unknown_work_table(const RuleCoverage& coverage, TimeFormat format, std::size_t top = 0);
// Ranks side by side: collectives, wait and straggler per iteration; each rank's exposed communication
// and the part of it spent waiting for other ranks; the collectives that waited longest.
Table collectives_iteration_table(const CollectivesReport& report, TimeFormat format);
Table rank_wait_table(const CollectivesReport& report, TimeFormat format);
Table longest_waits_table(const CollectivesReport& report, TimeFormat format, std::size_t top = 0);

// Columns padded to their widest cell; text left-aligned, numbers right-aligned. Text cells longer than
// `max_cell_width` (C++ kernel names run to hundreds of characters) end in "..." at that width; 0 keeps
// them whole.
std::string format_text_table(const Table& table, std::size_t max_cell_width = 64);

}  // namespace scmoe::prof::analysis
