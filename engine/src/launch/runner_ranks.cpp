#include "launch/runner_ranks.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "parallel/gloo_store.h"
#include "scmoe/engine/config_io.h"
#include "scmoe/profiler/formats/atomic_file.h"

namespace scmoe::engine {

namespace {

std::string cli_program() {
  if (const char* cli = std::getenv("SCMOE_CLI"); cli != nullptr && *cli != '\0') return cli;
  const std::string self = launch::this_executable();
  return self.substr(0, self.rfind('/') + 1) + "scmoe";
}

std::string temporary_config_path() {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/scmoe-ranks-XXXXXX.json";
  const int fd = mkstemps(path.data(), 5);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  close(fd);
  return path;
}

}  // namespace

RunnerRanks::~RunnerRanks() {
  if (!config_file_.empty()) unlink(config_file_.c_str());
}

std::string RunnerRanks::start(EngineConfig& config) {
  if (config.world_size <= 1 || !config.rendezvous.empty()) return "";
  try {
    launch::Options o;
    o.program = cli_program();
    o.placement = {"127.0.0.1", launch::pick_free_port("127.0.0.1"), config.world_size, 1, 1};
    config.rendezvous = o.placement.master_addr + ":" + std::to_string(o.placement.master_port);
    config_file_ = temporary_config_path();
    if (std::string error = prof::formats::write_file_atomically(config_file_, config_to_json(config)); !error.empty()) {
      return error;
    }
    o.args = {"run", "--config", config_file_};
    o.processes = config.world_size - 1;
    o.scmoe_run_flags = true;
    o.rank_timeout = rank_timeout();
    o.output = launch::Output::Quiet;
    ranks_ = std::make_unique<launch::LocalRanks>(o);
  } catch (const std::exception& e) {
    return std::string("cannot start the other ranks: ") + e.what();
  }
  return "";
}

void RunnerRanks::finish(RunSummary& summary) {
  if (!ranks_) return;
  // Rank 0 is done: the others have left the store already, or read why the run stopped, or cannot get
  // anywhere without rank 0 (still connecting to its store): none needs long.
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  bool killed = false;
  while (!ranks_->poll()) {
    if (!killed && Clock::now() >= deadline) {
      ranks_->signal_all(SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::vector<launch::RankExit> exits = ranks_->exits();
  if (launch::exit_code(exits) != 0 && summary.error.empty() && !summary.cancelled) {
    summary.error = "the other ranks of the run: " + launch::summary(exits);
  }
}

}  // namespace scmoe::engine
