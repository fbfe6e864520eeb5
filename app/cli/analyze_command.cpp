// `scmoe analyze FILE...`: communication/computation overlap per rank (dispatch / combine split), the
// per-op breakdown, what the classification rules did not understand (work in "other", rules that matched
// nothing) and, for several ranks, the collectives side by side (wait, straggler, exposed waiting), as
// aligned text, --json, or CSV files (--csv DIR); --compare B... adds the comparison with a second run.
// `scmoe diff A B` is the comparison alone.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include <map>

#include "scmoe/profiler/analysis/collectives.h"
#include "scmoe/profiler/analysis/critical_path.h"
#include "scmoe/profiler/analysis/rule_coverage.h"
#include "scmoe/profiler/analysis/tables.h"
#include "scmoe/profiler/formats/csv.h"
#include "scmoe/profiler/formats/load.h"

namespace scmoe::cli {

namespace {

namespace analysis = prof::analysis;
using nlohmann::json;

struct AnalyzeOptions {
  std::vector<std::string> inputs;
  std::vector<std::string> compare;  // second run (B); empty: no comparison
  bool json = false;
  std::string csv_dir;
  std::string rules;
  std::string group_by = "name";
  std::size_t top = 20;
  bool iterations = false;
  bool critical_path = false;
  std::optional<std::int32_t> iteration;  // critical path of this iteration only
};

const char* iteration_source_name(analysis::IterationSource s) {
  switch (s) {
    case analysis::IterationSource::SpanTags: return "span tags";
    case analysis::IterationSource::ProfilerSteps: return "ProfilerStep annotations";
    case analysis::IterationSource::None: break;
  }
  return "none";
}

json stats_json(const analysis::OverlapStats& s) {
  return {{"comm_ns", s.comm_ns},         {"compute_ns", s.compute_ns}, {"overlapped_ns", s.overlapped_ns},
          {"exposed_ns", s.exposed_ns}, {"overlap_percent", s.overlap_percent()}};
}

json rows_json(const std::vector<analysis::OverlapRow>& rows) {
  json out = json::array();
  for (const auto& r : rows) {
    out.push_back({{"rank", r.rank == analysis::kAllRanks ? json("all") : json(r.rank)},
                   {"iteration", r.iteration == prof::kNoIndex ? json(nullptr) : json(r.iteration)},
                   {"wall_ns", r.wall_ns},
                   {"total", stats_json(r.total)},
                   {"dispatch", stats_json(r.dispatch)},
                   {"combine", stats_json(r.combine)},
                   {"other_comm", stats_json(r.other_comm)}});
  }
  return out;
}

json breakdown_json(const std::vector<analysis::OpStats>& ops, std::size_t top) {
  json out = json::array();
  for (std::size_t i = 0; i < ops.size() && (top == 0 || i < top); ++i) {
    const auto& op = ops[i];
    out.push_back({{"op", op.key}, {"category", prof::category_name(op.category)}, {"count", op.count},
                   {"total_ns", op.total_ns}, {"median_ns", op.median_ns}, {"p90_ns", op.p90_ns},
                   {"min_ns", op.min_ns}, {"max_ns", op.max_ns}});
  }
  return out;
}

json comparison_json(const analysis::Comparison& c) {
  json ops = json::array(), phases = json::array();
  for (const auto& d : c.ops) {
    ops.push_back({{"op", d.key}, {"change", analysis::change_name(d.change)}, {"count_a", d.count_a},
                   {"count_b", d.count_b}, {"a_per_iteration_ns", d.per_iteration_a_ns},
                   {"b_per_iteration_ns", d.per_iteration_b_ns}, {"delta_ns", d.delta_ns()},
                   {"median_a_ns", d.median_a_ns}, {"median_b_ns", d.median_b_ns}});
  }
  for (const auto& p : c.phases) {
    phases.push_back({{"phase", p.phase}, {"change", analysis::change_name(p.change)}, {"a_per_iteration_ns", p.a_ns},
                      {"b_per_iteration_ns", p.b_ns}, {"delta_ns", p.delta_ns()}});
  }
  return {{"iteration_a_ns", c.iteration_a_ns}, {"iteration_b_ns", c.iteration_b_ns}, {"speedup_x", c.speedup_x()},
          {"time_saved_percent", c.time_saved_percent()}, {"ops", ops}, {"phases", phases}};
}

json rule_json(const prof::ClassificationRule& r, std::size_t index) {
  return {{"index", index}, {"family", r.family}, {"name", r.name_regex}, {"arg", r.arg_key},
          {"scope", r.scope == prof::RuleScope::Any ? "any" : r.scope == prof::RuleScope::Device ? "device" : "host"},
          {"category", prof::category_name(r.category)}};
}

json coverage_json(const analysis::RuleCoverage& c, const prof::ClassificationRules& rules, std::size_t top) {
  json unknown = json::array(), unmatched = json::array(), unmatched_annotations = json::array();
  for (std::size_t i = 0; i < c.unknown.size() && (top == 0 || i < top); ++i) {
    unknown.push_back({{"name", c.unknown[i].name}, {"count", c.unknown[i].count}, {"total_ns", c.unknown[i].total_ns}});
  }
  for (std::size_t i : c.unmatched_rules) unmatched.push_back(rule_json(rules.rules()[i], i));
  for (std::size_t i : c.unmatched_annotation_rules) {
    const prof::AnnotationRule& r = rules.annotation_rules()[i];
    unmatched_annotations.push_back({{"index", i}, {"family", r.family}, {"name", r.name_regex}});
  }
  return {{"work_ns", c.work_ns},          {"other_ns", c.unknown_ns},          {"other", unknown},
          {"unmatched_rules", unmatched}, {"rules", rules.rules().size()}, {"unmatched_annotation_rules", unmatched_annotations},
          {"annotation_rules", rules.annotation_rules().size()}};
}

json collectives_json(const analysis::CollectivesReport& r, std::size_t top) {
  json iterations = json::array(), waits = json::array(), longest = json::array();
  auto index_or_null = [](std::int32_t v) { return v == prof::kNoIndex ? json(nullptr) : json(v); };
  for (const auto& i : r.per_iteration) {
    iterations.push_back({{"iteration", index_or_null(i.iteration)}, {"collectives", i.collectives},
                          {"total_wait_ns", i.total_wait_ns}, {"max_wait_ns", i.max_wait_ns},
                          {"straggler", index_or_null(i.straggler)}, {"straggler_times", i.straggler_count}});
  }
  for (const auto& w : r.rank_waits) {
    waits.push_back({{"rank", w.rank}, {"iteration", index_or_null(w.iteration)}, {"exposed_ns", w.exposed_ns},
                     {"waiting_ns", w.exposed_wait_ns}, {"waiting_percent", w.wait_percent()}});
  }
  const analysis::Table table = analysis::longest_waits_table(r, analysis::TimeFormat::Nanoseconds, top);
  for (const auto& row : table.rows) {
    json entry;
    for (std::size_t c = 0; c < row.size(); ++c) entry[table.header[c]] = row[c];
    longest.push_back(std::move(entry));
  }
  return {{"ranks", r.ranks}, {"matched_by", r.by_sequence ? "sequence numbers" : "order per communicator and name"},
          {"collectives", r.collectives.size()}, {"on_one_rank_only", r.unmatched}, {"per_iteration", iterations},
          {"rank_waits", waits}, {"longest_waits", longest}};
}

// The unmatched rules in a few lines: those of the built-in families counted per family, the others
// (the user's) one per line.
std::string unmatched_rules_text(const analysis::RuleCoverage& c, const prof::ClassificationRules& rules) {
  std::map<std::string, std::size_t> built_in;
  for (const auto& r : prof::ClassificationRules::defaults().rules()) built_in.emplace(r.family, 0);
  std::string own;
  for (std::size_t i : c.unmatched_rules) {
    const prof::ClassificationRule& r = rules.rules()[i];
    if (auto it = built_in.find(r.family); it != built_in.end() && !r.family.empty()) {
      ++it->second;
    } else {
      own += "  rule " + std::to_string(i) + (r.family.empty() ? "" : " (" + r.family + ")") + ": /" + r.name_regex +
             "/" + (r.arg_key.empty() ? "" : " with arg " + r.arg_key) + " -> " +
             std::string(prof::category_name(r.category)) + "\n";
    }
  }
  std::string families;
  for (const auto& [family, count] : built_in) {
    if (count > 0) families += (families.empty() ? "" : ", ") + family + " " + std::to_string(count);
  }
  return "Rules that matched nothing: " + std::to_string(c.unmatched_rules.size()) + " of " +
         std::to_string(rules.rules().size()) + " kernel rules" + (families.empty() ? "" : " (built-in: " + families + ")") +
         ", " + std::to_string(c.unmatched_annotation_rules.size()) + " of " +
         std::to_string(rules.annotation_rules().size()) + " annotation rules\n" + own;
}

std::string speedup_line(const analysis::Comparison& c) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, "median iteration: A %.3f us, B %.3f us -> speedup %.3fx (%.1f%% time)",
                double(c.iteration_a_ns) / 1000.0, double(c.iteration_b_ns) / 1000.0, c.speedup_x(),
                c.time_saved_percent());
  return buffer;
}

std::optional<prof::Trace> load(const std::vector<std::string>& paths, const prof::formats::LoadOptions& options,
                                const char* command) {
  prof::formats::LoadResult loaded = prof::formats::load_traces(paths, options);
  if (!loaded.trace) {
    std::cerr << "scmoe " << command << ": " << loaded.error << "\n";
    return std::nullopt;
  }
  return std::move(loaded.trace);
}

// Writes each table as DIR/<file> (created if needed). Returns "" or the first error.
std::string write_tables(const std::string& dir, const std::vector<std::pair<std::string, analysis::Table>>& tables) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "--csv " + dir + ": " + ec.message();
  for (const auto& [file, table] : tables) {
    const std::string path = (std::filesystem::path(dir) / file).string();
    if (std::string err = prof::formats::write_csv(path, table.header, table.rows); !err.empty()) return err;
  }
  return {};
}

int run_analyze(const AnalyzeOptions& opts) {
  prof::formats::LoadOptions load_options;
  if (!opts.rules.empty()) {
    if (std::string err = load_options.rules.load_file(opts.rules); !err.empty()) {
      std::cerr << "scmoe analyze: --rules: " << err << "\n";
      return 2;
    }
  }
  std::optional<prof::Trace> trace = load(opts.inputs, load_options, "analyze");
  if (!trace) return 1;
  std::optional<prof::Trace> other;
  if (!opts.compare.empty() && !(other = load(opts.compare, load_options, "analyze"))) return 1;

  analysis::OverlapOptions overlap_options;
  overlap_options.per_iteration = opts.iterations;
  const analysis::OverlapReport overlap = analysis::analyze_overlap(*trace, overlap_options);
  analysis::BreakdownOptions breakdown_options;
  breakdown_options.group_by = opts.group_by == "category" ? analysis::GroupBy::Category : analysis::GroupBy::Name;
  const std::vector<analysis::OpStats> ops = analysis::breakdown(*trace, breakdown_options);
  const analysis::RuleCoverage coverage = analysis::rule_coverage(*trace, load_options.rules);
  const analysis::CollectivesReport collectives = analysis::analyze_collectives(*trace);
  std::optional<analysis::CriticalPath> path;
  if (opts.critical_path) {
    analysis::CriticalPathOptions path_options;
    path_options.iteration = opts.iteration;
    path = analysis::critical_path(*trace, path_options);
    if (!path->error.empty()) {
      std::cerr << "scmoe analyze: critical path: " << path->error << "\n";
      return 1;
    }
  }
  std::optional<analysis::Comparison> comparison;
  if (other) {
    analysis::CompareOptions compare_options;
    compare_options.group_by = breakdown_options.group_by;
    comparison = analysis::compare_traces(*trace, *other, compare_options);
  }

  if (!opts.csv_dir.empty()) {
    const auto ns = analysis::TimeFormat::Nanoseconds;
    std::vector<std::pair<std::string, analysis::Table>> tables = {
        {"overlap.csv", analysis::overlap_table(overlap.whole_trace, ns)},
        {"breakdown.csv", analysis::breakdown_table(ops, ns)},
        {"other.csv", analysis::unknown_work_table(coverage, ns)}};
    if (!collectives.ranks.empty()) {
      tables.emplace_back("collectives_per_iteration.csv", analysis::collectives_iteration_table(collectives, ns));
      tables.emplace_back("rank_waits.csv", analysis::rank_wait_table(collectives, ns));
      tables.emplace_back("collectives.csv", analysis::longest_waits_table(collectives, ns));
    }
    if (opts.iterations) tables.emplace_back("overlap_per_iteration.csv", analysis::overlap_table(overlap.per_iteration, ns));
    if (comparison) {
      tables.emplace_back("compare_ops.csv", analysis::comparison_ops_table(*comparison, ns));
      tables.emplace_back("compare_phases.csv", analysis::comparison_phases_table(*comparison, ns));
    }
    if (std::string err = write_tables(opts.csv_dir, tables); !err.empty()) {
      std::cerr << "scmoe analyze: " << err << "\n";
      return 1;
    }
  }

  if (opts.json) {
    json out = {{"files", opts.inputs},
                {"spans", trace->span_count()},
                {"dropped_records", trace->dropped_records},
                {"overlap", {{"whole_trace", rows_json(overlap.whole_trace)}}},
                {"breakdown", breakdown_json(ops, opts.top)},
                {"classification", coverage_json(coverage, load_options.rules, opts.top)}};
    if (!collectives.ranks.empty()) out["collectives"] = collectives_json(collectives, opts.top);
    if (opts.iterations) {
      out["iteration_source"] = iteration_source_name(overlap.iteration_source);
      out["overlap"]["per_iteration"] = rows_json(overlap.per_iteration);
    }
    if (path) {
      out["critical_path"] = {{"iteration", opts.iteration ? json(*opts.iteration) : json(nullptr)},
                              {"length_ns", path->length_ns}, {"comm_ns", path->comm_ns},
                              {"comm_share", path->comm_share()}, {"spans", path->chain.size()}};
    }
    if (comparison) {
      out["compare_files"] = opts.compare;
      out["comparison"] = comparison_json(*comparison);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  const auto us = analysis::TimeFormat::Microseconds;
  std::cout << trace->span_count() << " spans, " << trace->tracks.size() << " tracks";
  if (trace->dropped_records > 0) std::cout << ", " << trace->dropped_records << " capture records DROPPED";
  std::cout << "\n\nOverlap (whole trace; overlap % = overlapped / comm, HTA's definition)\n"
            << analysis::format_text_table(analysis::overlap_table(overlap.whole_trace, us));
  if (opts.iterations) {
    std::cout << "\nOverlap per iteration (from " << iteration_source_name(overlap.iteration_source) << ")\n"
              << analysis::format_text_table(analysis::overlap_table(overlap.per_iteration, us));
  }
  std::cout << "\nBreakdown" << (opts.top > 0 && ops.size() > opts.top ? " (top " + std::to_string(opts.top) + ")" : "")
            << "\n" << analysis::format_text_table(analysis::breakdown_table(ops, us, opts.top));
  std::cout << "\nWork in \"other\" (no rule recognised it; counted as computation)"
            << (opts.top > 0 && coverage.unknown.size() > opts.top ? " (top " + std::to_string(opts.top) + ")" : "") << "\n"
            << analysis::format_text_table(analysis::unknown_work_table(coverage, us, opts.top)) << "\n"
            << unmatched_rules_text(coverage, load_options.rules);
  if (!collectives.ranks.empty()) {
    std::cout << "\nRanks side by side: " << collectives.collectives.size() << " collectives on "
              << collectives.ranks.size() << " ranks, matched by "
              << (collectives.by_sequence ? "sequence numbers" : "order per communicator and name") << " ("
              << collectives.unmatched << " spans on one rank only; wait = last arrival - first)\n"
              << analysis::format_text_table(analysis::collectives_iteration_table(collectives, us))
              << "\nExposed communication spent waiting for other ranks\n"
              << analysis::format_text_table(analysis::rank_wait_table(collectives, us))
              << "\nLongest waits" << (opts.top > 0 ? " (top " + std::to_string(opts.top) + ")" : "") << "\n"
              << analysis::format_text_table(analysis::longest_waits_table(collectives, us, opts.top));
  }
  if (path) {
    char summary[128];
    std::snprintf(summary, sizeof summary, "%zu spans, %.3f us, %.1f%% communication", path->chain.size(),
                  double(path->length_ns) / 1000.0, 100.0 * path->comm_share());
    std::cout << "\nCritical path" << (opts.iteration ? " of iteration " + std::to_string(*opts.iteration) : std::string())
              << ": " << summary << "\n";
  }
  if (comparison) {
    std::cout << "\nComparison with " << opts.compare.front() << (opts.compare.size() > 1 ? " ..." : "") << "\n"
              << speedup_line(*comparison) << "\n\n"
              << analysis::format_text_table(analysis::comparison_phases_table(*comparison, us)) << "\n"
              << analysis::format_text_table(analysis::comparison_ops_table(*comparison, us, opts.top));
  }
  return 0;
}

// `scmoe diff A B`: opts.inputs holds exactly A and B.
int run_diff(const AnalyzeOptions& opts) {
  prof::formats::LoadOptions load_options;
  if (!opts.rules.empty()) {
    if (std::string err = load_options.rules.load_file(opts.rules); !err.empty()) {
      std::cerr << "scmoe diff: --rules: " << err << "\n";
      return 2;
    }
  }
  std::optional<prof::Trace> a = load({opts.inputs[0]}, load_options, "diff");
  if (!a) return 1;
  std::optional<prof::Trace> b = load({opts.inputs[1]}, load_options, "diff");
  if (!b) return 1;
  analysis::CompareOptions compare_options;
  compare_options.group_by = opts.group_by == "category" ? analysis::GroupBy::Category : analysis::GroupBy::Name;
  const analysis::Comparison c = analysis::compare_traces(*a, *b, compare_options);
  if (!opts.csv_dir.empty()) {
    const auto ns = analysis::TimeFormat::Nanoseconds;
    if (std::string err = write_tables(opts.csv_dir, {{"compare_ops.csv", analysis::comparison_ops_table(c, ns)},
                                                      {"compare_phases.csv", analysis::comparison_phases_table(c, ns)}});
        !err.empty()) {
      std::cerr << "scmoe diff: " << err << "\n";
      return 1;
    }
  }
  if (opts.json) {
    std::cout << comparison_json(c).dump(2) << "\n";
    return 0;
  }
  const auto us = analysis::TimeFormat::Microseconds;
  std::cout << speedup_line(c) << "\n\n" << analysis::format_text_table(analysis::comparison_phases_table(c, us)) << "\n"
            << analysis::format_text_table(analysis::comparison_ops_table(c, us, opts.top));
  return 0;
}

}  // namespace

void add_analyze_command(CLI::App& app) {
  auto opts = std::make_shared<AnalyzeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "analyze", "Overlap of communication and computation per rank (dispatch/combine split) and per-op breakdown");
  cmd->add_option("inputs", opts->inputs, "Traces (.scmoe, Chrome/Kineto .json or .json.gz; one per rank)")->required();
  cmd->add_option("--compare", opts->compare, "A second run (B) to compare against the inputs (A)");
  cmd->add_flag("--json", opts->json, "Print JSON instead of text tables");
  cmd->add_option("--csv", opts->csv_dir, "Also write the tables as CSV files (times in ns) into this directory");
  cmd->add_option("--rules", opts->rules, "Classification rules JSON for imported traces (default: presets)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--group-by", opts->group_by, "Breakdown key")->check(CLI::IsMember({"name", "category"}));
  cmd->add_option("--top", opts->top, "Rows of the breakdown / comparison to print (0: all)");
  cmd->add_flag("--iterations", opts->iterations, "Also show overlap per iteration");
  cmd->add_flag("--critical-path", opts->critical_path, "Also report the critical path and its communication share");
  cmd->add_option("--iteration", opts->iteration,
                  "With --critical-path: only this iteration (engine iteration tag or ProfilerStep#N)");
  cmd->callback([opts] { set_exit_code(run_analyze(*opts)); });

  auto diff = std::make_shared<AnalyzeOptions>();
  CLI::App* diff_cmd = app.add_subcommand("diff", "Compare two runs: per op and per phase, and the iteration speedup");
  diff_cmd->add_option("traces", diff->inputs, "A (baseline) and B")->required()->expected(2);
  diff_cmd->add_flag("--json", diff->json, "Print JSON");
  diff_cmd->add_option("--csv", diff->csv_dir, "Also write the comparison tables as CSV into this directory");
  diff_cmd->add_option("--rules", diff->rules, "Classification rules JSON")->check(CLI::ExistingFile);
  diff_cmd->add_option("--group-by", diff->group_by, "Op key")->check(CLI::IsMember({"name", "category"}));
  diff_cmd->add_option("--top", diff->top, "Rows of the op table to print (0: all)");
  diff_cmd->callback([diff] { set_exit_code(run_diff(*diff)); });
}

}  // namespace scmoe::cli
