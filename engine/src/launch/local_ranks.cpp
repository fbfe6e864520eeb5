#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>

#include "launch/child_process.h"
#include "scmoe/engine/launch.h"

namespace scmoe::engine::launch {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kTailLines = 20;
constexpr std::chrono::milliseconds kPollInterval{20};
constexpr std::chrono::seconds kGraceAfterTimeout{3};
constexpr std::chrono::seconds kKillAfterTerm{2};

// An integer from a flag's or variable's text; "" or the error naming `what`.
std::string parse_int(const char* text, const std::string& what, int low, int high, int& out) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0 || value < low || value > high) {
    return what + ": expected an integer in " + std::to_string(low) + ".." + std::to_string(high) + ", got \"" +
           text + "\"";
  }
  out = static_cast<int>(value);
  return "";
}

// Takes `variable` into `field` when the field is unset (`unset`) and the variable is.
std::string from_environment(int& field, int unset, const char* variable, int low, int high) {
  if (field != unset) return "";
  const char* value = std::getenv(variable);
  return value == nullptr ? "" : parse_int(value, std::string("environment variable ") + variable, low, high, field);
}

// Lines read from a child's pipe: forwarded with a prefix (Output::All) and/or kept as a tail.
class LineSink {
 public:
  LineSink(int fd, int to_fd, std::string prefix) : fd_(fd), to_fd_(to_fd), prefix_(std::move(prefix)) {}
  int fd() const { return fd_; }
  // Reads what is there; false at end of file (the fd is closed then).
  bool pump() {
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(fd_, buffer, sizeof buffer);
      if (n > 0) {
        partial_.append(buffer, static_cast<std::size_t>(n));
        emit_lines();
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      if (!partial_.empty()) line(partial_);
      partial_.clear();
      close(fd_);
      fd_ = -1;
      return false;
    }
  }
  std::string tail() const {
    std::string out;
    for (const std::string& l : tail_) out += l + "\n";
    return out;
  }

 private:
  void emit_lines() {
    std::size_t start = 0;
    for (std::size_t nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', start)) {
      line(partial_.substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
  }
  void line(const std::string& text) {
    if (to_fd_ >= 0) {
      const std::string out = prefix_ + text + "\n";
      (void)!write(to_fd_, out.data(), out.size());
    }
    tail_.push_back(text);
    if (tail_.size() > kTailLines) tail_.pop_front();
  }

  int fd_;
  int to_fd_;  // -1: keep the tail only
  std::string prefix_;
  std::string partial_;
  std::deque<std::string> tail_;
};

std::string signal_text(int signal) {
  const char* name = sigabbrev_np(signal);
  return std::to_string(signal) + (name != nullptr ? std::string(" (SIG") + name + ")" : "");
}

bool is_output_flag(const std::string& arg, std::string& flag) {
  for (const char* f : {"--trace", "--report"}) {
    if (arg == f || arg.rfind(std::string(f) + "=", 0) == 0) {
      flag = f;
      return true;
    }
  }
  return false;
}

// `scmoe run` arguments of one rank: the common ones (without the output files for all but the first
// rank) and its place in the group.
std::vector<std::string> run_args(const Options& o, int rank, int local_device, bool writes_outputs,
                                  const std::string& rendezvous) {
  std::vector<std::string> args;
  bool has_ep_size = false;
  for (std::size_t i = 0; i < o.args.size(); ++i) {
    const std::string& a = o.args[i];
    has_ep_size = has_ep_size || a == "--ep-size" || a.rfind("--ep-size=", 0) == 0;
    std::string flag;
    if (!writes_outputs && is_output_flag(a, flag)) {
      if (a == flag) ++i;  // its value is the next argument
      continue;
    }
    args.push_back(a);
  }
  const std::string world = std::to_string(o.placement.world_size);
  for (const std::string& a : {std::string("--world-size"), world, std::string("--rank"), std::to_string(rank),
                               std::string("--rendezvous"), rendezvous, std::string("--local-device"),
                               std::to_string(local_device)}) {
    args.push_back(a);
  }
  if (!has_ep_size) {
    args.push_back("--ep-size");
    args.push_back(world);
  }
  return args;
}

}  // namespace

std::string resolve_placement(Placement& p, int processes) {
  if (processes < 1) return "processes: must be >= 1, got " + std::to_string(processes);
  if (p.master_addr.empty()) {
    const char* addr = std::getenv("MASTER_ADDR");
    p.master_addr = addr != nullptr && *addr != '\0' ? addr : "127.0.0.1";
  }
  constexpr int kMaxRanks = 1 << 16;
  for (std::string error : {from_environment(p.master_port, -1, "MASTER_PORT", 1, 65535),
                            from_environment(p.world_size, 0, "WORLD_SIZE", 1, kMaxRanks),
                            from_environment(p.first_rank, -1, "RANK", 0, kMaxRanks),
                            from_environment(p.first_local_device, -1, "LOCAL_RANK", 0, kMaxRanks)}) {
    if (!error.empty()) return error;
  }
  if (p.world_size == 0) p.world_size = processes;
  if (p.first_rank < 0) p.first_rank = 0;
  if (p.first_local_device < 0) p.first_local_device = 0;
  if (p.first_rank + processes > p.world_size) {
    return "ranks " + std::to_string(p.first_rank) + ".." + std::to_string(p.first_rank + processes - 1) +
           " do not fit into a world of " + std::to_string(p.world_size) + " (WORLD_SIZE / --world-size)";
  }
  if (p.first_rank != 0) {
    if (p.master_port <= 0) {
      return "rank 0 starts elsewhere: its store's port is needed (MASTER_PORT or --rendezvous host:port)";
    }
    return "";
  }
  if (p.master_port <= 0) {
    try {
      p.master_port = pick_free_port(p.master_addr);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }
  return check_port_free(p.master_port);
}

struct LocalRanks::Impl {
  struct Rank {
    RankExit exit;
    pid_t pid = -1;
    bool done = false;
    std::vector<LineSink> sinks;
  };
  Options options;
  std::string rendezvous;
  std::vector<Rank> ranks;
  std::optional<Clock::time_point> first_failure;
  bool terminated = false, killed = false;
  int ended = 0;

  void start() {
    const Placement& p = options.placement;
    const std::string program = options.program.empty() ? this_executable() : options.program;
    char timeout_s[32];
    std::snprintf(timeout_s, sizeof timeout_s, "%g", static_cast<double>(options.rank_timeout.count()) / 1000.0);
    pid_t group = 0;
    for (int i = 0; i < options.processes; ++i) {
      const int rank = p.first_rank + i;
      const int local_device = p.first_local_device + i;
      const bool first = i == 0;
      ChildSpec spec;
      spec.program = program;
      spec.argv.push_back(program);
      const std::vector<std::string> args =
          options.scmoe_run_flags ? run_args(options, rank, local_device, first, rendezvous) : options.args;
      spec.argv.insert(spec.argv.end(), args.begin(), args.end());
      spec.env = environment_with({"MASTER_ADDR=" + p.master_addr, "MASTER_PORT=" + std::to_string(p.master_port),
                                   "WORLD_SIZE=" + std::to_string(p.world_size), "RANK=" + std::to_string(rank),
                                   "LOCAL_RANK=" + std::to_string(local_device), std::string("SCMOE_RANK_TIMEOUT_S=") + timeout_s});
      spec.group = group;
      const bool to_terminal = options.output == Output::FirstRank && first;
      spec.out = to_terminal ? Stream::Inherit : options.output == Output::All ? Stream::Pipe : Stream::Drop;
      spec.err = to_terminal ? Stream::Inherit : Stream::Pipe;
      const Child child = start_child(spec);
      if (group == 0) group = child.pid;
      Rank r;
      r.exit.rank = rank;
      r.pid = child.pid;
      const std::string prefix = "[rank " + std::to_string(rank) + "] ";
      const bool forward = options.output == Output::All;
      if (child.out_fd >= 0) r.sinks.emplace_back(child.out_fd, forward ? STDOUT_FILENO : -1, prefix);
      if (child.err_fd >= 0) r.sinks.emplace_back(child.err_fd, forward ? STDERR_FILENO : -1, prefix);
      ranks.push_back(std::move(r));
    }
  }

  void pump(std::chrono::milliseconds timeout) {
    std::vector<pollfd> fds;
    std::vector<LineSink*> owners;
    for (Rank& r : ranks) {
      for (LineSink& s : r.sinks) {
        if (s.fd() < 0) continue;
        fds.push_back({s.fd(), POLLIN, 0});
        owners.push_back(&s);
      }
    }
    if (fds.empty()) {
      if (timeout.count() > 0) usleep(static_cast<useconds_t>(timeout.count() * 1000));
      return;
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(timeout.count())) <= 0) return;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) owners[i]->pump();
    }
  }

  void reap() {
    for (Rank& r : ranks) {
      if (r.done) continue;
      int status = 0;
      const pid_t got = waitpid(r.pid, &status, WNOHANG);
      if (got != r.pid) continue;
      r.done = true;
      r.exit.end_order = ++ended;
      if (WIFEXITED(status)) r.exit.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) r.exit.signal = WTERMSIG(status);
      if (!r.exit.ok() && !first_failure) first_failure = Clock::now();
      // What is left in its pipes (a grandchild could hold them open: read what is there, then let go).
      for (LineSink& s : r.sinks) {
        while (s.fd() >= 0 && s.pump()) {
          pollfd p{s.fd(), POLLIN, 0};
          if (::poll(&p, 1, 0) <= 0) break;
        }
      }
      for (const LineSink& s : r.sinks) r.exit.stderr_tail += s.tail();
    }
  }

  void signal_running(int signal, bool by_launcher) {
    for (Rank& r : ranks) {
      if (r.done) continue;
      kill(r.pid, signal);
      r.exit.stopped_by_launcher = r.exit.stopped_by_launcher || by_launcher;
    }
  }

  // After a failure the others must end by themselves within the rank timeout; then they are stopped.
  void enforce_deadline() {
    if (!first_failure) return;
    const Clock::time_point term_at = *first_failure + options.rank_timeout + kGraceAfterTimeout;
    const Clock::time_point now = Clock::now();
    if (!terminated && now >= term_at) {
      signal_running(SIGTERM, true);
      signal_running(SIGCONT, true);  // a stopped rank acts on SIGTERM only once it runs
      terminated = true;
    }
    if (!killed && now >= term_at + kKillAfterTerm) {
      signal_running(SIGKILL, true);
      killed = true;
    }
  }

  bool all_done() const {
    return std::all_of(ranks.begin(), ranks.end(), [](const Rank& r) { return r.done; });
  }
};

LocalRanks::LocalRanks(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  const Placement& p = impl_->options.placement;
  impl_->rendezvous = p.master_addr + ":" + std::to_string(p.master_port);
  try {
    impl_->start();
  } catch (...) {
    impl_->signal_running(SIGKILL, true);
    for (const Impl::Rank& r : impl_->ranks) waitpid(r.pid, nullptr, 0);
    impl_->ranks.clear();
    throw;
  }
}

LocalRanks::~LocalRanks() {
  impl_->signal_running(SIGKILL, true);
  for (Impl::Rank& r : impl_->ranks) {
    if (!r.done) waitpid(r.pid, nullptr, 0);
    for (LineSink& s : r.sinks) {
      if (s.fd() >= 0) close(s.fd());
    }
  }
}

void LocalRanks::signal_all(int signal) { impl_->signal_running(signal, false); }

bool LocalRanks::poll() {
  impl_->pump(std::chrono::milliseconds(0));
  impl_->reap();
  impl_->enforce_deadline();
  return impl_->all_done();
}

std::vector<RankExit> LocalRanks::wait(const std::function<int()>& pending_signal) {
  while (!impl_->all_done()) {
    impl_->pump(kPollInterval);
    if (pending_signal) {
      if (const int signal = pending_signal(); signal != 0) impl_->signal_running(signal, false);
    }
    impl_->reap();
    impl_->enforce_deadline();
  }
  return exits();
}

std::vector<RankExit> LocalRanks::exits() const {
  std::vector<RankExit> out;
  for (const Impl::Rank& r : impl_->ranks) out.push_back(r.exit);
  return out;
}

std::string LocalRanks::rendezvous() const { return impl_->rendezvous; }

std::string summary(const std::vector<RankExit>& exits) {
  std::string failures, tails;
  for (const RankExit& e : exits) {
    if (e.ok()) continue;
    failures += "  rank " + std::to_string(e.rank) + ": ";
    if (e.signal > 0) {
      failures += "killed by signal " + signal_text(e.signal);
    } else {
      failures += "exited with " + std::to_string(e.exit_code) + (e.exit_code == 130 ? " (cancelled)" : "");
    }
    if (e.stopped_by_launcher) failures += " (stopped by the launcher: it did not end by itself)";
    failures += "\n";
    if (!e.stderr_tail.empty()) tails += "--- rank " + std::to_string(e.rank) + ", last lines of stderr:\n" + e.stderr_tail;
  }
  const std::string count = std::to_string(exits.size()) + (exits.size() == 1 ? " rank" : " ranks");
  if (failures.empty()) return count + ": all exited 0\n";
  return count + ", failed:\n" + failures + tails;
}

int exit_code(const std::vector<RankExit>& exits) {
  const RankExit* first = nullptr;
  for (const RankExit& e : exits) {
    if (!e.ok() && (first == nullptr || e.end_order < first->end_order)) first = &e;
  }
  if (first == nullptr) return 0;
  return first->signal > 0 ? 128 + first->signal : first->exit_code;
}

}  // namespace scmoe::engine::launch
