// `scmoe launch -n N [-- run ARGS]`: starts the N ranks of a multi-process run on this machine (Gloo on the
// CPU, NCCL with --device cuda: one process per GPU), forwards Ctrl-C to them, collects their exit codes
// and prints one summary. Several machines: one `scmoe launch` per machine with MASTER_ADDR/MASTER_PORT
// (rank 0's machine), WORLD_SIZE and RANK (the first rank started there), as torchrun's variables.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "scmoe/engine/config.h"
#include "scmoe/engine/launch.h"

namespace scmoe::cli {

namespace {

namespace launch = scmoe::engine::launch;

struct LaunchOptions {
  int processes = 0;
  std::string rendezvous;
  int world_size = 0;
  int first_rank = -1;
  int first_local_device = -1;
  double timeout_s = 30.0;
  bool all_output = false;
  std::string program;
  std::vector<std::string> args;
};

std::atomic<int> g_signals{0};
std::atomic<int> g_last_signal{0};
extern "C" void on_launch_signal(int signal) {
  g_last_signal.store(signal);
  g_signals.fetch_add(1);
}

// Ctrl-C once: the ranks cancel cleanly (SIGINT); twice: SIGTERM; three times: SIGKILL.
int pending_signal() {
  static int forwarded = 0;
  const int received = g_signals.load();
  if (received == forwarded) return 0;
  forwarded = received;
  if (g_last_signal.load() == SIGTERM) return SIGTERM;
  return received == 1 ? SIGINT : received == 2 ? SIGTERM : SIGKILL;
}

int launch_ranks(const LaunchOptions& opts) {
  if (opts.args.empty()) {
    std::cerr << "scmoe launch: nothing to start: give every rank's arguments after --, e.g. "
                 "scmoe launch -n 2 -- run --preset demo --ab\n";
    return 2;
  }
  launch::Options o;
  o.processes = opts.processes;
  o.args = opts.args;
  o.program = opts.program;
  o.scmoe_run_flags = opts.program.empty() && opts.args.front() == "run";
  o.rank_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(opts.timeout_s * 1000.0));
  o.output = opts.all_output ? launch::Output::All : launch::Output::FirstRank;
  o.placement.world_size = opts.world_size;
  o.placement.first_rank = opts.first_rank;
  o.placement.first_local_device = opts.first_local_device;
  if (!opts.rendezvous.empty() &&
      !engine::parse_rendezvous(opts.rendezvous, o.placement.master_addr, o.placement.master_port)) {
    std::cerr << "scmoe launch: --rendezvous: expected host:port (port 1..65535), got \"" << opts.rendezvous << "\"\n";
    return 2;
  }
  if (std::string error = launch::resolve_placement(o.placement, opts.processes); !error.empty()) {
    std::cerr << "scmoe launch: " << error << "\n";
    return 2;
  }
  std::unique_ptr<launch::LocalRanks> ranks;
  const auto previous_int = std::signal(SIGINT, on_launch_signal);
  const auto previous_term = std::signal(SIGTERM, on_launch_signal);
  try {
    ranks = std::make_unique<launch::LocalRanks>(o);
  } catch (const std::exception& e) {
    std::signal(SIGINT, previous_int);
    std::signal(SIGTERM, previous_term);
    std::cerr << "scmoe launch: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "scmoe launch: ranks " << o.placement.first_rank << ".." << o.placement.first_rank + opts.processes - 1
            << " of " << o.placement.world_size << ", rendezvous " << ranks->rendezvous() << "\n";
  const std::vector<launch::RankExit> exits = ranks->wait(pending_signal);
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  std::cerr << "scmoe launch: " << launch::summary(exits);
  return launch::exit_code(exits);
}

}  // namespace

void add_launch_command(CLI::App& app) {
  auto opts = std::make_shared<LaunchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "launch", "Start the ranks of a multi-process run on this machine (Gloo on CPU, NCCL on GPUs): "
                "scmoe launch -n 2 -- run --preset demo --ab");
  cmd->add_option("-n,--processes", opts->processes, "Processes (ranks) to start here")
      ->required()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--rendezvous", opts->rendezvous,
                  "host:port of rank 0's store (default: MASTER_ADDR:MASTER_PORT, else 127.0.0.1 and a free port)");
  cmd->add_option("--world-size", opts->world_size, "Ranks in the whole run, all machines (default: WORLD_SIZE, else -n)")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--first-rank", opts->first_rank, "Rank of the first process started here (default: RANK, else 0)")
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--first-local-device", opts->first_local_device,
                  "GPU of the first process here; the next get the next GPUs (default: LOCAL_RANK, else 0)")
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--timeout", opts->timeout_s,
                  "Seconds a rank waits for a dead or hung peer before it stops with an error naming it (default 30)")
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_flag("--all-output", opts->all_output, "Show every rank's output, prefixed [rank r] (default: the first rank's)");
  cmd->add_option("--program", opts->program, "Start this executable instead of scmoe (it gets RANK, WORLD_SIZE, ...)");
  cmd->add_option("args", opts->args, "After --: every rank's arguments, e.g. run --preset demo --ab");
  cmd->callback([opts] { set_exit_code(launch_ranks(*opts)); });
}

}  // namespace scmoe::cli
