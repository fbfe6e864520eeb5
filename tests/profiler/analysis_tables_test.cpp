// Table layout: columns, units, alignment and truncation of the text form.
#include <gtest/gtest.h>

#include <sstream>

#include "scmoe/profiler/analysis/tables.h"

namespace scmoe::prof::analysis {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Tables, OverlapRowsInBothTimeFormats) {
  OverlapRow r;
  r.rank = 2;
  r.wall_ns = 1234567;
  r.total = {1000, 3000, 250, 750};
  r.dispatch = {600, 3000, 150, 450};
  OverlapRow all = r;
  all.rank = kAllRanks;
  const Table ns = overlap_table({r, all}, TimeFormat::Nanoseconds);
  ASSERT_EQ(ns.rows.size(), 2u);
  ASSERT_EQ(ns.header.size(), ns.rows[0].size());
  EXPECT_EQ(ns.header[3], "comm_ns");
  EXPECT_EQ(ns.rows[0][0], "2");
  EXPECT_EQ(ns.rows[0][1], "all");
  EXPECT_EQ(ns.rows[0][2], "1234567");
  EXPECT_EQ(ns.rows[0][7], "25.0");   // 250 / 1000
  EXPECT_EQ(ns.rows[0][10], "25.0");  // dispatch 150 / 600
  EXPECT_EQ(ns.rows[1][0], "all");
  const Table us = overlap_table({r}, TimeFormat::Microseconds);
  EXPECT_EQ(us.header[3], "comm_us");
  EXPECT_EQ(us.rows[0][2], "1234.567");
}

TEST(Tables, TextIsAlignedAndLongNamesAreCut) {
  Table t;
  t.header = {"op", "count"};
  t.rows = {{std::string(100, 'k'), "7"}, {"gemm", "12345"}};
  const std::vector<std::string> lines = lines_of(format_text_table(t, 20));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], std::string(17, 'k') + "...      7") << "cut to 20, numbers right-aligned";
  EXPECT_EQ(lines[2], "gemm                  12345");
  EXPECT_EQ(lines[0], "op                    count");
  EXPECT_EQ(lines_of(format_text_table(t, 0))[1].size(), 100u + 2 + 5) << "0 keeps cells whole";
}

TEST(Tables, BreakdownTopAndComparison) {
  std::vector<OpStats> ops(3);
  for (int i = 0; i < 3; ++i) ops[i].key = "op" + std::to_string(i), ops[i].total_ns = 1000 * (3 - i);
  EXPECT_EQ(breakdown_table(ops, TimeFormat::Nanoseconds, 2).rows.size(), 2u);
  EXPECT_EQ(breakdown_table(ops, TimeFormat::Nanoseconds).rows.size(), 3u);
  Comparison c;
  c.ops.push_back(OpDelta{"a2a", Change::Faster, 2, 2, 500, 200, 250, 100});
  c.phases.push_back(PhaseDelta{"dispatch", Change::Faster, 500, 200});
  const Table ops_table = comparison_ops_table(c, TimeFormat::Nanoseconds);
  EXPECT_EQ(ops_table.rows[0][1], "faster");
  EXPECT_EQ(ops_table.rows[0][6], "-300");
  EXPECT_EQ(comparison_phases_table(c, TimeFormat::Microseconds).rows[0][4], "-0.300");
}

}  // namespace
}  // namespace scmoe::prof::analysis
