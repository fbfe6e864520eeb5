#include "cli/run_report.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "scmoe/engine/config_io.h"
#include "scmoe/profiler/analysis/breakdown.h"
#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/profiler/analysis/tables.h"
#include "scmoe/profiler/report/html_report.h"
#include "scmoe/version.h"

namespace scmoe::cli {

namespace {

namespace rep = prof::report;
namespace ana = prof::analysis;

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string host_name() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? buf : "unknown";
}

rep::KeyValues config_section(const engine::EngineConfig& config) {
  rep::KeyValues kv{"Configuration", {}};
  // Flattened into "/link/bandwidth_gbps"-style keys; kept in a variable because items() only refers to it.
  const nlohmann::json flat = nlohmann::json::parse(engine::config_to_json(config)).flatten();
  for (const auto& [key, value] : flat.items()) {
    kv.items.emplace_back(key.substr(1), value.is_string() ? value.get<std::string>() : value.dump());
  }
  return kv;
}

rep::KeyValues machine_section() {
  return {"Machine and versions",
          {{"host", host_name()},
           {"CPU", cpu_model()},
           {"hardware threads", std::to_string(std::thread::hardware_concurrency())},
           {"ScMoE Studio", std::string(kVersion) + " (" + kBuildType + ")"},
           {"CUDA parts", kBuiltWithCuda ? "built" : "not built"}}};
}

rep::Table summary_table(const engine::EngineConfig& config, const engine::RunSummary& s,
                         const ana::OverlapRow* overlap) {
  rep::Table t{"Summary", {"metric", "value"}, {}, -1};
  const std::string arch(engine::to_string(config.arch));
  t.rows.push_back({"iterations measured", std::to_string(s.iterations_done)});
  t.rows.push_back({arch + " iteration time (median)", fixed(s.median_ms, 3) + " ms"});
  if (s.predicted_ms > 0) t.rows.push_back({arch + " cost-model prediction", fixed(s.predicted_ms, 3) + " ms"});
  if (config.ab_against_top2) {
    t.rows.push_back({"top2 iteration time (median)", fixed(s.top2_median_ms, 3) + " ms"});
    t.rows.push_back({"speedup over top2 (x = T_top2 / T_" + arch + ")",
                      fixed(s.speedup_x, 3) + " x (IQR " + fixed(s.speedup_low_x, 3) + " .. " +
                          fixed(s.speedup_high_x, 3) + ")"});
    t.rows.push_back({"time saved vs top2 (% time = 1 - T_" + arch + " / T_top2)", fixed(s.time_saved_pct, 1) + " %"});
  }
  if (overlap != nullptr) {
    t.rows.push_back({"communication hidden by compute (last iteration)",
                      fixed(overlap->total.overlap_percent(), 1) + " %"});
    t.rows.push_back({"exposed communication (last iteration, all ranks)",
                      fixed(double(overlap->total.exposed_ns) / 1e6, 3) + " ms"});
    t.rows.push_back({"dispatch hidden / combine hidden", fixed(overlap->dispatch.overlap_percent(), 1) + " % / " +
                                                               fixed(overlap->combine.overlap_percent(), 1) + " %"});
  }
  if (s.chosen_slot > 0) t.rows.push_back({"expert slot K used", std::to_string(s.chosen_slot)});
  return t;
}

rep::Table slot_table(const engine::RunSummary& s) {
  rep::Table t{"Per-K table of the cost model (one Block-MLP + Block-MoE pair)",
               {"K", "T_pre ms", "T_post ms", "|T_pre-T_disp|+|T_post-T_comb| ms", "exposed ms", "predicted ms"},
               {},
               -1};
  for (std::size_t i = 0; i < s.slot_table.size(); ++i) {
    const auto& row = s.slot_table[i];
    t.rows.push_back({std::to_string(row.slot), fixed(row.t_pre_ms, 3), fixed(row.t_post_ms, 3),
                      fixed(row.objective_ms, 3), fixed(row.exposed_ms, 3), fixed(row.predicted_ms, 3)});
    if (row.slot == s.chosen_slot) t.highlighted_row = static_cast<int>(i);
  }
  return t;
}

rep::Table from_analysis(std::string heading, const ana::Table& table) {
  return {std::move(heading), table.header, table.rows, -1};
}

}  // namespace

std::string write_run_report(const std::string& path, const engine::EngineConfig& config,
                             const engine::RunSummary& summary, const std::vector<IterationPoint>& iterations,
                             const prof::Trace& last_iteration) {
  const ana::OverlapReport overlap = ana::analyze_overlap(last_iteration, {ana::TrackSelection::Auto, false});
  const ana::OverlapRow* all_ranks = overlap.whole_trace.empty() ? nullptr : &overlap.whole_trace.back();

  rep::HtmlReport report;
  report.title = "ScMoE Studio run: " + std::string(engine::to_string(config.arch)) + " (" +
                 std::string(engine::to_string(config.schedule)) + " schedule, " + std::to_string(config.ep_size) +
                 " ranks)";
  if (config.link.enabled) {
    report.notes.push_back("Communication time comes from an emulated link (" + fixed(config.link.bandwidth_gbps, 3) +
                           " GB/s, " + fixed(config.link.latency_us, 1) +
                           " us latency); emulated spans are hatched in the timeline.");
  }
  if (summary.cancelled) report.notes.push_back("The run was cancelled: the numbers cover the iterations done.");
  report.key_values.push_back(config_section(config));
  report.key_values.push_back(machine_section());
  report.tables.push_back(summary_table(config, summary, all_ranks));
  if (!summary.slot_table.empty()) report.tables.push_back(slot_table(summary));
  report.tables.push_back(from_analysis("Overlap of the last iteration (per rank)",
                                        ana::overlap_table(overlap.whole_trace, ana::TimeFormat::Microseconds)));
  report.tables.push_back(from_analysis("Per-operator breakdown of the last iteration",
                                        ana::breakdown_table(ana::breakdown(last_iteration),
                                                             ana::TimeFormat::Microseconds, 25)));
  report.timelines.push_back({"Timeline of the last iteration", &last_iteration});

  rep::LineChart chart{"Iteration time", "ms", {}};
  rep::Series arch{std::string(engine::to_string(config.arch)), {}};
  rep::Series top2{"top2", {}};
  for (const IterationPoint& p : iterations) {
    (p.arch == config.arch ? arch : top2).values.push_back(p.time_ms);
  }
  chart.series.push_back(std::move(arch));
  if (!top2.values.empty() && config.arch != engine::Arch::Top2) chart.series.push_back(std::move(top2));
  report.charts.push_back(std::move(chart));
  return rep::write_html(report, path);
}

}  // namespace scmoe::cli
