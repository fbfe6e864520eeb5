// One child process started with fork + execve: in a given process group, killed when the starting
// thread ends (PR_SET_PDEATHSIG), its stdout and stderr inherited, dropped or piped back.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace scmoe::engine::launch {

enum class Stream { Inherit, Drop, Pipe };

struct ChildSpec {
  std::string program;
  std::vector<std::string> argv;  // argv[0] first
  std::vector<std::string> env;   // "NAME=value", the whole environment
  pid_t group = 0;                // the process group to join; 0 = a new one led by the child
  Stream out = Stream::Inherit;
  Stream err = Stream::Inherit;
};

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // read ends of the pipes (Stream::Pipe), non-blocking
  int err_fd = -1;
};

// Throws std::runtime_error naming the program when it cannot be started (exec failed: not found, not
// executable); the child is then reaped.
Child start_child(const ChildSpec& spec);

// The environment of this process with `overrides` ("NAME=value") replacing or adding variables.
std::vector<std::string> environment_with(const std::vector<std::string>& overrides);

}  // namespace scmoe::engine::launch
