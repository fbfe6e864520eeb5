#include "launch/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace scmoe::engine::launch {

namespace {

// A pipe whose ends are closed on exec (the child dup2s the one it needs onto 1 or 2).
void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// In the child between fork and exec: async-signal-safe calls only (the parent may have threads).
[[noreturn]] void exec_child(const ChildSpec& spec, pid_t parent, int out_fd, int err_fd, int null_fd, int report_fd,
                             char* const* argv, char* const* envp) {
  setpgid(0, spec.group);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent thread ended before prctl: nobody would reap us
  // Dispositions the launcher set (it ignores or catches SIGINT) must not reach the rank.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGINT, &dfl, nullptr);
  sigaction(SIGTERM, &dfl, nullptr);
  sigaction(SIGPIPE, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
  if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
  if (spec.out == Stream::Drop) dup2(null_fd, STDOUT_FILENO);
  if (spec.err == Stream::Drop) dup2(null_fd, STDERR_FILENO);
  execve(spec.program.c_str(), argv, envp);
  const int error = errno;
  (void)!write(report_fd, &error, sizeof error);
  _exit(127);
}

}  // namespace

std::vector<std::string> environment_with(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& o : overrides) replaced = replaced || o.compare(0, name.size() + 1, name + "=") == 0;
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

Child start_child(const ChildSpec& spec) {
  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  if (spec.out == Stream::Pipe) make_pipe(out);
  if (spec.err == Stream::Pipe) make_pipe(err);
  make_pipe(report);
  const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  // Everything the child needs is built before fork: it may not allocate afterwards.
  const std::vector<char*> argv = c_strings(spec.argv);
  const std::vector<char*> envp = c_strings(spec.env);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) exec_child(spec, parent, out[1], err[1], null_fd, report[1], argv.data(), envp.data());
  const int fork_errno = errno;
  for (int fd : {out[1], err[1], report[1], null_fd}) {
    if (fd >= 0) close(fd);
  }
  const auto close_reads = [&] {
    for (int fd : {out[0], err[0], report[0]}) {
      if (fd >= 0) close(fd);
    }
  };
  if (pid < 0) {
    close_reads();
    throw std::runtime_error("cannot start " + spec.program + ": fork: " + std::strerror(fork_errno));
  }
  setpgid(pid, spec.group == 0 ? pid : spec.group);  // also here: whichever runs first, the group is set
  // The report pipe closes on a successful exec (O_CLOEXEC) and carries errno on a failed one.
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = read(report[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close(report[0]);
  report[0] = -1;
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    close_reads();
    waitpid(pid, nullptr, 0);
    throw std::runtime_error("cannot start " + spec.program + ": " + std::strerror(exec_errno));
  }
  for (int fd : {out[0], err[0]}) {
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  return {pid, out[0], err[0]};
}

}  // namespace scmoe::engine::launch
