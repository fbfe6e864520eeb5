// `scmoe run`: runs the engine from a config file and/or flags (one flag per config key), prints the
// summary (or --json), streams progress to stderr and saves the last iteration's trace (--trace). Ctrl-C
// cancels the run cleanly.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/run_report.h"
#include "scmoe/engine/config_io.h"
#include "scmoe/engine/runner.h"
#include "scmoe/profiler/formats/load.h"

namespace scmoe::cli {

namespace {

namespace eng = scmoe::engine;
namespace cost = scmoe::prof::cost;

struct RunOptions {
  std::string config_file;
  std::map<std::string, std::string> keys;  // config key -> value given on the command line
  int iters = 0;
  bool ab = false;
  bool json = false;
  std::string trace_file;
  std::string report_file;
};

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

std::string flag_for(std::string_view key) {
  std::string flag(key);
  for (char& c : flag) {
    if (c == '_' || c == '.') c = '-';
  }
  return "--" + flag;
}

const char* type_name(eng::ConfigValueKind kind) {
  switch (kind) {
    case eng::ConfigValueKind::Integer: return "INT";
    case eng::ConfigValueKind::Number: return "NUMBER";
    case eng::ConfigValueKind::Boolean: return "true|false";
    case eng::ConfigValueKind::String: return "NAME";
  }
  return "VALUE";
}

int report_config_errors(const std::vector<eng::ConfigError>& errors) {
  for (const auto& e : errors) std::cerr << "scmoe run: invalid config: " << e.field << ": " << e.message << "\n";
  return 2;
}

nlohmann::json iteration_json(const eng::IterationResult& r) {
  nlohmann::json similarity = nlohmann::json::array();
  for (const auto& s : r.similarity) similarity.push_back({{"layer", s.layer}, {"cosine", s.cosine}, {"l2", s.l2}});
  return {{"iteration", r.iteration}, {"arch", eng::to_string(r.arch)}, {"time_ms", r.time_ms},
          {"tokens_dropped", r.tokens_dropped}, {"aux_loss", r.aux_loss}, {"similarity", similarity}};
}

nlohmann::json summary_json(const eng::EngineConfig& config, const eng::RunSummary& s,
                            const nlohmann::json& iterations) {
  nlohmann::json table = nlohmann::json::array();
  for (const auto& row : s.slot_table) {
    table.push_back({{"slot", row.slot}, {"t_pre_ms", row.t_pre_ms}, {"t_post_ms", row.t_post_ms},
                     {"objective_ms", row.objective_ms}, {"exposed_ms", row.exposed_ms},
                     {"predicted_unit_ms", row.predicted_ms}});
  }
  nlohmann::json ops = nlohmann::json::object();
  for (int op = 0; op < cost::kOpCount; ++op) {
    ops[std::string(cost::op_name(static_cast<cost::Op>(op)))] = s.op_times.ms[static_cast<std::size_t>(op)];
  }
  nlohmann::json out = {
      {"config", nlohmann::json::parse(eng::config_to_json(config))},
      {"cancelled", s.cancelled},
      {"error", s.error},
      {"iterations_done", s.iterations_done},
      {"median_ms", s.median_ms},
      {"chosen_slot", s.chosen_slot},
      {"predicted_ms", s.predicted_ms},
      {"predicted_top2_ms", s.predicted_top2_ms},
      {"op_times_ms", ops},
      {"slot_table", table},
      {"iterations", iterations},
  };
  if (config.ab_against_top2) {
    out["top2_median_ms"] = s.top2_median_ms;
    out["speedup_x"] = s.speedup_x;
    out["speedup_x_p25"] = s.speedup_low_x;
    out["speedup_x_p75"] = s.speedup_high_x;
    out["time_saved_pct"] = s.time_saved_pct;
  }
  return out;
}

void print_summary(const eng::EngineConfig& config, const eng::RunSummary& s) {
  std::printf("%s, %s schedule, %d ranks, %d iterations: median %.3f ms", std::string(eng::to_string(config.arch)).c_str(),
              std::string(eng::to_string(config.schedule)).c_str(), config.ep_size, s.iterations_done, s.median_ms);
  if (s.predicted_ms > 0.0) std::printf(" (cost model: %.3f ms)", s.predicted_ms);
  std::printf("\n");
  if (config.ab_against_top2) {
    std::printf("top2 median %.3f ms (cost model: %.3f ms)\n", s.top2_median_ms, s.predicted_top2_ms);
    std::printf("speedup vs top2: %.3fx (p25 %.3fx, p75 %.3fx); time saved: %.1f%%\n", s.speedup_x, s.speedup_low_x,
                s.speedup_high_x, s.time_saved_pct);
  }
  if (!s.slot_table.empty()) {
    std::printf("expert slot K used: %d%s\n", s.chosen_slot, config.schedule == eng::Schedule::Adaptive ? " (adaptive K*)" : "");
    std::printf("  K   T_pre ms  T_post ms  |pre-disp|+|post-comb| ms  exposed ms  predicted unit ms\n");
    for (const auto& row : s.slot_table) {
      std::printf("  %d %10.3f %10.3f %26.3f %11.3f %18.3f%s\n", row.slot, row.t_pre_ms, row.t_post_ms, row.objective_ms,
                  row.exposed_ms, row.predicted_ms, row.slot == s.chosen_slot ? "  <-" : "");
    }
  }
  if (config.link.enabled) {
    std::printf("communication times come from an emulated link: %.3g GB/s, %.3g us%s\n", config.link.bandwidth_gbps,
                config.link.latency_us, config.link.preset.empty() ? "" : (" (" + config.link.preset + ")").c_str());
  }
}

int run(const RunOptions& opts) {
  eng::EngineConfig config;
  if (!opts.config_file.empty()) {
    if (auto errors = eng::load_config_file(opts.config_file, config); !errors.empty()) return report_config_errors(errors);
  }
  // Presets first, so the other flags override what they set.
  for (const char* first : {"preset", "link.preset"}) {
    if (auto it = opts.keys.find(first); it != opts.keys.end()) {
      if (auto errors = eng::set_config_value(config, it->first, it->second); !errors.empty()) {
        return report_config_errors(errors);
      }
    }
  }
  for (const auto& [key, value] : opts.keys) {
    if (key == "preset" || key == "link.preset") continue;
    if (auto errors = eng::set_config_value(config, key, value); !errors.empty()) return report_config_errors(errors);
  }
  if (opts.iters > 0) config.iterations = opts.iters;
  if (opts.ab) config.ab_against_top2 = true;

  std::mutex mutex;
  nlohmann::json iterations = nlohmann::json::array();
  prof::Trace last_trace;
  std::vector<IterationPoint> points;
  eng::RunCallbacks callbacks;
  callbacks.on_iteration = [&](const eng::IterationResult& r) {
    std::lock_guard lock(mutex);
    iterations.push_back(iteration_json(r));
    points.push_back({r.arch, r.time_ms});
    if (r.arch == config.arch) last_trace = r.trace;
    std::cerr << "iteration " << r.iteration + 1 << "/" << config.iterations << "  " << eng::to_string(r.arch) << " "
              << r.time_ms << " ms\n";
  };
  eng::Runner runner;
  if (auto errors = runner.start(config, callbacks); !errors.empty()) return report_config_errors(errors);
  const auto previous = std::signal(SIGINT, on_sigint);
  while (runner.running()) {
    if (g_interrupted.load()) {
      std::cerr << "scmoe run: cancelling...\n";
      runner.cancel();
      g_interrupted.store(false);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const eng::RunSummary summary = runner.wait();
  std::signal(SIGINT, previous);

  if (opts.json) {
    std::cout << summary_json(config, summary, iterations).dump(2) << "\n";
  } else {
    print_summary(config, summary);
  }
  if (!summary.error.empty()) {
    std::cerr << "scmoe run: the run failed: " << summary.error << "\n";
    return 1;
  }
  if (!opts.trace_file.empty() && !last_trace.tracks.empty()) {
    if (std::string error = prof::formats::save_trace(last_trace, opts.trace_file); !error.empty()) {
      std::cerr << "scmoe run: " << error << "\n";
      return 1;
    }
    std::cerr << "wrote " << opts.trace_file << " (" << last_trace.span_count() << " spans)\n";
  }
  if (!opts.report_file.empty() && !last_trace.tracks.empty()) {
    if (std::string error = write_run_report(opts.report_file, config, summary, points, last_trace); !error.empty()) {
      std::cerr << "scmoe run: " << error << "\n";
      return 1;
    }
    std::cerr << "wrote " << opts.report_file << "\n";
  }
  if (summary.cancelled) {
    std::cerr << "scmoe run: cancelled after " << summary.iterations_done << " iterations\n";
    return 130;
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run the ScMoE engine (or a baseline) and report iteration times, "
                                            "the speedup over top-2 and the cost model's per-K table");
  cmd->add_option("--config", opts->config_file, "Engine config file (.toml or .json)")->check(CLI::ExistingFile);
  cmd->add_option("--iters", opts->iters, "Measured iterations (overrides the config)")->check(CLI::PositiveNumber);
  cmd->add_flag("--ab", opts->ab, "Alternate every iteration with top-2 on the same inputs and report the speedup");
  cmd->add_flag("--json", opts->json, "Print the summary as JSON");
  cmd->add_option("--report", opts->report_file,
                  "Write a self-contained HTML report (summary, per-K table, overlap, timeline, charts)");
  cmd->add_option("--trace", opts->trace_file, "Save the last iteration's trace (.scmoe, .json, .json.gz, .csv)");
  for (const eng::ConfigKey& key : eng::config_keys()) {
    const std::string name(key.name);
    cmd->add_option_function<std::string>(
           flag_for(key.name), [opts, name](const std::string& value) { opts->keys[name] = value; },
           std::string(key.help))
        ->type_name(type_name(key.kind))
        ->group("Config keys (override the file)");
  }
  cmd->callback([opts] { set_exit_code(run(*opts)); });
}

}  // namespace scmoe::cli
