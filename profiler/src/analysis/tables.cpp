#include "scmoe/profiler/analysis/tables.h"

#include <algorithm>
#include <cstdio>

namespace scmoe::prof::analysis {

namespace {

std::string time_text(double ns, TimeFormat format) {
  char buffer[64];
  if (format == TimeFormat::Nanoseconds) {
    std::snprintf(buffer, sizeof buffer, "%.0f", ns);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.3f", ns / 1000.0);
  }
  return buffer;
}

std::string percent_text(double percent) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", percent);
  return buffer;
}

std::string unit(TimeFormat format) { return format == TimeFormat::Nanoseconds ? "_ns" : "_us"; }

bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+')) return false;
  }
  return true;
}

}  // namespace

Table overlap_table(const std::vector<OverlapRow>& rows, TimeFormat format) {
  const std::string u = unit(format);
  Table t;
  t.header = {"rank", "iteration", "wall" + u, "comm" + u, "compute" + u, "overlapped" + u, "exposed" + u,
              "overlap_%", "dispatch" + u, "dispatch_exposed" + u, "dispatch_overlap_%", "combine" + u,
              "combine_exposed" + u, "combine_overlap_%", "other_comm" + u, "other_comm_overlap_%"};
  for (const OverlapRow& r : rows) {
    t.rows.push_back({r.rank == kAllRanks ? "all" : std::to_string(r.rank),
                      r.iteration == kNoIndex ? "all" : std::to_string(r.iteration), time_text(double(r.wall_ns), format),
                      time_text(double(r.total.comm_ns), format), time_text(double(r.total.compute_ns), format),
                      time_text(double(r.total.overlapped_ns), format), time_text(double(r.total.exposed_ns), format),
                      percent_text(r.total.overlap_percent()), time_text(double(r.dispatch.comm_ns), format),
                      time_text(double(r.dispatch.exposed_ns), format), percent_text(r.dispatch.overlap_percent()),
                      time_text(double(r.combine.comm_ns), format), time_text(double(r.combine.exposed_ns), format),
                      percent_text(r.combine.overlap_percent()), time_text(double(r.other_comm.comm_ns), format),
                      percent_text(r.other_comm.overlap_percent())});
  }
  return t;
}

Table breakdown_table(const std::vector<OpStats>& ops, TimeFormat format, std::size_t top) {
  const std::string u = unit(format);
  Table t;
  t.header = {"op", "category", "count", "total" + u, "median" + u, "p90" + u, "min" + u, "max" + u};
  const std::size_t n = top > 0 ? std::min(top, ops.size()) : ops.size();
  for (std::size_t i = 0; i < n; ++i) {
    const OpStats& op = ops[i];
    t.rows.push_back({op.key, std::string(category_name(op.category)), std::to_string(op.count),
                      time_text(double(op.total_ns), format), time_text(op.median_ns, format),
                      time_text(op.p90_ns, format), time_text(double(op.min_ns), format),
                      time_text(double(op.max_ns), format)});
  }
  return t;
}

Table comparison_ops_table(const Comparison& c, TimeFormat format, std::size_t top) {
  const std::string u = unit(format);
  Table t;
  t.header = {"op", "change", "count_a", "count_b", "a_per_iter" + u, "b_per_iter" + u, "delta" + u,
              "median_a" + u, "median_b" + u};
  const std::size_t n = top > 0 ? std::min(top, c.ops.size()) : c.ops.size();
  for (std::size_t i = 0; i < n; ++i) {
    const OpDelta& d = c.ops[i];
    t.rows.push_back({d.key, std::string(change_name(d.change)), std::to_string(d.count_a), std::to_string(d.count_b),
                      time_text(d.per_iteration_a_ns, format), time_text(d.per_iteration_b_ns, format),
                      time_text(d.delta_ns(), format), time_text(d.median_a_ns, format),
                      time_text(d.median_b_ns, format)});
  }
  return t;
}

Table comparison_phases_table(const Comparison& c, TimeFormat format) {
  const std::string u = unit(format);
  Table t;
  t.header = {"phase", "change", "a_per_iter" + u, "b_per_iter" + u, "delta" + u};
  for (const PhaseDelta& p : c.phases) {
    t.rows.push_back({p.phase, std::string(change_name(p.change)), time_text(p.a_ns, format),
                      time_text(p.b_ns, format), time_text(p.delta_ns(), format)});
  }
  return t;
}

Table unknown_work_table(const RuleCoverage& coverage, TimeFormat format, std::size_t top) {
  const std::string u = unit(format);
  Table t;
  t.header = {"name", "count", "total" + u, "share_%"};
  const std::size_t n = top > 0 ? std::min(top, coverage.unknown.size()) : coverage.unknown.size();
  for (std::size_t i = 0; i < n; ++i) {
    const UnknownWork& w = coverage.unknown[i];
    t.rows.push_back({w.name, std::to_string(w.count), time_text(double(w.total_ns), format),
                      percent_text(coverage.work_ns > 0 ? 100.0 * double(w.total_ns) / double(coverage.work_ns) : 0.0)});
  }
  return t;
}

namespace {
std::string rank_text(std::int32_t rank) { return rank == kNoIndex ? "-" : std::to_string(rank); }
std::string iteration_text(std::int32_t iteration) { return iteration == kNoIndex ? "all" : std::to_string(iteration); }
}  // namespace

Table collectives_iteration_table(const CollectivesReport& report, TimeFormat format) {
  const std::string u = unit(format);
  Table t;
  t.header = {"iteration", "collectives", "total_wait" + u, "max_wait" + u, "straggler", "straggler_times"};
  for (const IterationCollectives& r : report.per_iteration) {
    t.rows.push_back({r.iteration == kNoIndex ? "none" : std::to_string(r.iteration), std::to_string(r.collectives),
                      time_text(double(r.total_wait_ns), format), time_text(double(r.max_wait_ns), format),
                      rank_text(r.straggler), std::to_string(r.straggler_count)});
  }
  return t;
}

Table rank_wait_table(const CollectivesReport& report, TimeFormat format) {
  const std::string u = unit(format);
  Table t;
  t.header = {"rank", "iteration", "exposed_comm" + u, "waiting" + u, "waiting_%"};
  for (const RankWait& w : report.rank_waits) {
    t.rows.push_back({std::to_string(w.rank), iteration_text(w.iteration), time_text(double(w.exposed_ns), format),
                      time_text(double(w.exposed_wait_ns), format), percent_text(w.wait_percent())});
  }
  return t;
}

Table longest_waits_table(const CollectivesReport& report, TimeFormat format, std::size_t top) {
  const std::string u = unit(format);
  std::vector<const CollectiveInstance*> order;
  for (const CollectiveInstance& c : report.collectives) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(),
                   [](const CollectiveInstance* a, const CollectiveInstance* b) { return a->wait_ns > b->wait_ns; });
  Table t;
  t.header = {"collective", "communicator", "number", "iteration", "ranks", "wait" + u, "straggler"};
  const std::size_t n = top > 0 ? std::min(top, order.size()) : order.size();
  for (std::size_t i = 0; i < n; ++i) {
    const CollectiveInstance& c = *order[i];
    t.rows.push_back({c.name, c.communicator.empty() ? "-" : c.communicator, std::to_string(c.sequence),
                      c.iteration == kNoIndex ? "none" : std::to_string(c.iteration), std::to_string(c.arrivals.size()),
                      time_text(double(c.wait_ns), format), rank_text(c.straggler)});
  }
  return t;
}

std::string format_text_table(const Table& table, std::size_t max_cell_width) {
  const std::size_t columns = table.header.size();
  std::vector<bool> numeric(columns, true);
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < row.size() && c < columns; ++c) {
      numeric[c] = numeric[c] && (looks_numeric(row[c]) || row[c] == "all");
    }
  }
  auto shown = [&](const std::string& cell, std::size_t c) {
    if (numeric[c] || max_cell_width < 4 || max_cell_width == 0 || cell.size() <= max_cell_width) return cell;
    return cell.substr(0, max_cell_width - 3) + "...";
  };
  std::vector<std::size_t> width(columns, 0);
  for (std::size_t c = 0; c < columns; ++c) width[c] = table.header[c].size();
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < row.size() && c < columns; ++c) width[c] = std::max(width[c], shown(row[c], c).size());
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells, bool header) {
    for (std::size_t c = 0; c < columns; ++c) {
      const std::string cell = c < cells.size() ? (header ? cells[c] : shown(cells[c], c)) : std::string();
      const std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
      if (c > 0) out += "  ";
      out += numeric[c] ? pad + cell : (c + 1 == columns ? cell : cell + pad);
    }
    out += '\n';
  };
  emit(table.header, true);
  for (const auto& row : table.rows) emit(row, false);
  return out;
}

}  // namespace scmoe::prof::analysis
