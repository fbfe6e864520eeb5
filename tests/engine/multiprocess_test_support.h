// Shared by the multiprocess tests and their worker: the config and forward passes both sides run, and
// a way to run a program (scmoe, the worker) with a time limit and capture what it says.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "engine_test_support.h"
#include "launch/child_process.h"

namespace scmoe::engine::testing {

// The tiny config with one rank per process of a `world`-process run (in-process: world_size 1).
inline EngineConfig multiprocess_config(int world) {
  EngineConfig c = tiny_config();
  c.ep_size = world;
  c.world_size = world;
  return c;
}

struct Pass {
  Arch arch;
  int iteration;
  int slot;
  bool overlap;
};

// ScMoE overlapped, its top-2 twin, then ScMoE sequential on the next iteration's inputs.
inline std::vector<Pass> multiprocess_passes() {
  return {{Arch::ScMoE, 0, 2, true}, {Arch::Top2, 0, 1, true}, {Arch::ScMoE, 1, 3, false}};
}

inline prof::cost::Plan plan_of(const EngineConfig& c, const Pass& p) {
  return prof::cost::build_plan(shape_of(c, p.arch), p.slot, p.overlap);
}

inline std::string output_name(const Pass& p, int rank) {
  return std::string(to_string(p.arch)) + "-" + std::to_string(p.iteration) + "-rank" + std::to_string(rank) + ".bin";
}

struct Finished {
  int exit_code = -1;
  int signal = 0;
  std::string out, err;
  double seconds = 0.0;
  bool timed_out = false;
};

// A program running in the background with its stdout and stderr captured.
class RunningProgram {
 public:
  using Clock = std::chrono::steady_clock;
  // argv[0] is the program; `env` ("NAME=value") is added to this environment.
  explicit RunningProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env = {})
      : start_(Clock::now()) {
    launch::ChildSpec spec;
    spec.program = argv.front();
    spec.argv = argv;
    spec.env = launch::environment_with(env);
    spec.out = launch::Stream::Pipe;
    spec.err = launch::Stream::Pipe;
    const launch::Child child = launch::start_child(spec);
    pid_ = child.pid;
    fds_ = {{child.out_fd, POLLIN, 0}, {child.err_fd, POLLIN, 0}};
  }
  ~RunningProgram() {
    if (!reaped_) {
      kill(pid_, SIGKILL);
      finish(std::chrono::seconds(10));
    }
  }
  pid_t pid() const { return pid_; }
  const Finished& so_far() const { return f_; }

  // Reads until `done()` holds; false when the program ended or `limit` passed first.
  template <typename Done>
  bool wait_until(Done&& done, std::chrono::seconds limit) {
    const auto until = Clock::now() + limit;
    while (Clock::now() < until) {
      if (done()) return true;
      if (!step()) return false;
    }
    return false;
  }
  // Reads until `text` appears in stdout or stderr.
  bool wait_for_text(const std::string& text, std::chrono::seconds limit) {
    return wait_until([&] { return f_.out.find(text) != std::string::npos || f_.err.find(text) != std::string::npos; },
                      limit);
  }
  // Reads until the program ended (killed after `limit`).
  Finished finish(std::chrono::seconds limit) {
    const auto until = Clock::now() + limit;
    while (step()) {
      if (!f_.timed_out && Clock::now() > until) {
        f_.timed_out = true;
        kill(pid_, SIGKILL);
      }
    }
    return f_;
  }

 private:
  // One poll of the pipes and of the process; false once it ended and both pipes are closed.
  bool step() {
    if (reaped_ && fds_[0].fd < 0 && fds_[1].fd < 0) return false;
    poll(fds_.data(), fds_.size(), 20);
    std::string* sinks[] = {&f_.out, &f_.err};
    for (std::size_t i = 0; i < fds_.size(); ++i) {
      if (fds_[i].fd < 0 || fds_[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds_[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fds_[i].fd);
        fds_[i].fd = -1;
      }
    }
    int status = 0;
    if (!reaped_ && waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      f_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
      if (WIFEXITED(status)) f_.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) f_.signal = WTERMSIG(status);
    }
    return true;
  }

  Clock::time_point start_;
  pid_t pid_ = -1;
  std::vector<pollfd> fds_;
  bool reaped_ = false;
  Finished f_;
};

// Runs a program to its end (killed after `limit`).
inline Finished run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                            std::chrono::seconds limit = std::chrono::seconds(60)) {
  return RunningProgram(argv, env).finish(limit);
}

}  // namespace scmoe::engine::testing
