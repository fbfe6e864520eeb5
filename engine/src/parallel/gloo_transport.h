// c10d's ProcessGroupGloo for one rank, and the one way this engine waits for its collectives: polling the
// work while watching the run's AbortSignal and the watchdog, so that no wait outlives a dead or hung
// peer, and every failure becomes one error naming the rank at fault. Internal to the gloo_* sources
// (the only ones that include c10d's Gloo headers).
#pragma once

// c10d declares the Gloo classes only for builds with Gloo; libtorch_cpu has them (Debian's and pip's).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <string>

#include "parallel/abort_signal.h"
#include "parallel/gloo_store.h"
#include "parallel/gloo_watchdog.h"

namespace scmoe::engine {

class GlooTransport {
 public:
  // Connects to every other rank (Gloo's full mesh, through the store), binding to this machine's
  // address on the route to the store's host (GLOO_SOCKET_IFNAME picks an interface instead). `timeout`
  // bounds the connection and every collective (Gloo's own timeout; the watchdog usually ends a wait first).
  GlooTransport(RunStore& store, Watchdog& watchdog, const AbortSignal& abort, int rank, int world,
                std::chrono::milliseconds timeout);
  ~GlooTransport();  // abandons the process group where a collective may still be pending

  c10d::ProcessGroupGloo& group() { return *group_; }
  int rank() const { return rank_; }
  int world() const { return world_; }

  // Waits for `work` (`what` names it in errors). Throws RankFailure (the run's abort message, naming the
  // rank at fault) or Cancelled.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what);
  // True once a wait ended early: a collective may still be pending in Gloo's threads.
  bool pending() const { return pending_; }

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& error);

  RunStore& store_;
  Watchdog& watchdog_;
  const AbortSignal& abort_;
  int rank_;
  int world_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  bool pending_ = false;
};

}  // namespace scmoe::engine
