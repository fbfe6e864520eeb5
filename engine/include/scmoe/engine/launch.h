// Starting the ranks of a multi-process run on this machine: `scmoe launch`, and the Runner when it starts
// the other ranks of a run itself. One child process per rank, all in one process group of their own (a
// signal for the run reaches every rank at once, and a terminal's Ctrl-C reaches only the launcher, which
// forwards it); every child dies with the thread that started it (PR_SET_PDEATHSIG), so a launcher killed
// outright leaves no orphans. Plain POSIX, no LibTorch.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace scmoe::engine::launch {

// Where the ranks meet and which of them start here. Unset fields are taken from the variables other
// launchers (torchrun, SLURM scripts) export: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK (the first rank
// started here) and LOCAL_RANK (its GPU); then the defaults: 127.0.0.1, a free port, world = processes
// here, rank 0, GPU 0.
struct Placement {
  std::string master_addr;     // "" = unset
  int master_port = -1;        // -1 = unset; 0 = pick a free one (only where rank 0 starts)
  int world_size = 0;          // 0 = unset
  int first_rank = -1;         // -1 = unset
  int first_local_device = -1; // -1 = unset
};

// Fills the unset fields of `placement` for `processes` ranks started here; returns "" or one error
// naming the variable or flag (a value that is not a number, ranks outside the world, a port in use
// where rank 0 would serve the store).
std::string resolve_placement(Placement& placement, int processes);

enum class Output {
  FirstRank,  // the first rank started here writes to the terminal; the others' stdout is dropped and
              // the end of their stderr shown in the summary when they fail
  All,        // every rank's lines, prefixed "[rank r] "
  Quiet,      // nobody writes to the terminal (the Runner's own ranks): stderr tails for the summary
};

struct Options {
  std::string program;             // the executable; "" = this one (/proc/self/exe)
  std::vector<std::string> args;   // arguments of every rank
  int processes = 1;
  Placement placement;             // resolved (resolve_placement)
  // Ranks of `scmoe run` get their place as flags too (--world-size, --rank, --rendezvous,
  // --local-device, and --ep-size unless given), and only the first rank keeps --trace / --report (it
  // writes the merged trace; the others would write the same file).
  bool scmoe_run_flags = false;
  // Exported to every rank as SCMOE_RANK_TIMEOUT_S: how long a rank waits for a dead or hung peer.
  std::chrono::milliseconds rank_timeout{30'000};
  Output output = Output::FirstRank;
};

// How one rank ended.
struct RankExit {
  int rank = 0;
  int exit_code = -1;          // >= 0 when it exited
  int signal = 0;              // > 0 when a signal ended it
  bool stopped_by_launcher = false;  // the launcher had to terminate it
  std::string stderr_tail;     // its last lines, when its stderr did not go to the terminal
  int end_order = 0;           // 1 for the first rank seen to end, 2 for the next, ...
  bool ok() const { return exit_code == 0; }
};

class LocalRanks {
 public:
  // Starts every rank; throws std::runtime_error (after killing the ranks already started) when one
  // cannot be started.
  explicit LocalRanks(Options options);
  ~LocalRanks();  // kills and reaps whatever still runs
  LocalRanks(const LocalRanks&) = delete;
  LocalRanks& operator=(const LocalRanks&) = delete;

  // Sends `signal` to every rank still running.
  void signal_all(int signal);
  // Forwards output and reaps the ranks until all have ended. `pending_signal` is polled (every 20 ms):
  // a non-zero answer is forwarded to every rank (Ctrl-C: SIGINT). After the first rank that fails, the
  // others get the rank timeout plus 3 s to end by themselves (they notice the failure on their own),
  // then SIGTERM (with SIGCONT, for a stopped one), and SIGKILL 2 s later.
  std::vector<RankExit> wait(const std::function<int()>& pending_signal = {});
  // Non-blocking: reaps ranks that have ended and forwards output; true when every rank has ended.
  bool poll();
  std::vector<RankExit> exits() const;
  std::string rendezvous() const;  // "host:port"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "2 ranks: all exited 0" or one line per rank that failed ("rank 1: killed by signal 9 (SIGKILL)"),
// followed by the stderr tails of the failed ranks.
std::string summary(const std::vector<RankExit>& exits);
// 0 when every rank exited 0; else the code of the rank that failed first (128 + signal for a signal):
// the cause, where the others usually fail because of it.
int exit_code(const std::vector<RankExit>& exits);

// A TCP port nobody listens on at `host` right now (the kernel's pick); throws on failure.
int pick_free_port(const std::string& host);
// "" when `port` can be served (bound) on this machine, else the error ("port 29500 is in use ...").
std::string check_port_free(int port);
// This machine's address on the route to `host` (what a rank binds its transport to): "127.0.0.1" for
// the loopback, the veth address inside a network namespace. Throws when `host` cannot be resolved.
std::string local_address_towards(const std::string& host);

// The executable of this process.
std::string this_executable();

}  // namespace scmoe::engine::launch
