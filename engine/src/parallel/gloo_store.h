// The run's key-value store: c10d's TCPStore, served by rank 0 at the rendezvous address (the store the
// NCCL path and torchrun use), with the few keys every rank of a multi-process run shares:
//   scmoe/abort          why the run stopped: the first rank that knows writes it, every rank reports it
//   scmoe/beat/<r>       rank r's heartbeat (gloo_watchdog.h)
//   scmoe/left/<r>       rank r is done with the store (rank 0 keeps serving until every live rank left)
// and those of the rendezvous (gloo_rendezvous.h). No LibTorch types in this header.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cuda/poll.h"  // poll_until, duration_text: plain C++, shared with the NCCL path
#include "parallel/abort_signal.h"

namespace scmoe::engine {

using cuda::Clock;
using cuda::duration_text;

struct StoreAddress {
  std::string host;
  int port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

class RunStore {
 public:
  // Rank 0 serves the store, every other rank connects to it (retrying until `timeout`). Throws one
  // clear error: the port in use (rank 0), rank 0 unreachable (the others).
  RunStore(const StoreAddress& address, int rank, int world, std::chrono::milliseconds timeout);
  // Another client connection to the same store (the watchdog's, so that its heartbeats never wait behind
  // a blocking call of the run's thread).
  RunStore(const StoreAddress& address, std::chrono::milliseconds timeout);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  void set(const std::string& key, const std::string& value);
  std::string get(const std::string& key);   // waits up to the timeout for the key
  bool has(const std::string& key);
  std::int64_t add(const std::string& key, std::int64_t delta);
  // Blocks until `key` exists (up to the store's timeout): the one precise wait, for the clock pings.
  void wait(const std::string& key);
  // Polls until every key exists: false when `deadline` passed first. Throws the run's abort message
  // when one is published meanwhile (unless `watch_abort_message` is false), Cancelled when `abort` is
  // triggered.
  bool wait_for(const std::vector<std::string>& keys, Clock::time_point deadline, const AbortSignal* abort,
                bool watch_abort_message = true);

  // Publishes why the run stops, unless a rank did already; returns the message that stands.
  std::string publish_abort(const std::string& message);
  std::optional<std::string> abort_message();

  // The underlying c10d::Store (a c10::intrusive_ptr<c10d::Store>*), for the Gloo process group.
  void* c10d_store();
  const StoreAddress& address() const { return address_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  StoreAddress address_;
  std::chrono::milliseconds timeout_;
};

// The run's abort message as an exception (what every rank throws once it is known).
struct RankFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// SCMOE_RANK_TIMEOUT_S (set by `scmoe launch --timeout`), else 30 s: how long a rank waits for a peer
// that stopped (dead or hung).
std::chrono::milliseconds rank_timeout();
// How long the ranks wait for each other at the start (the store's timeout): the rank timeout, but at
// least 30 s, since processes that load LibTorch on a busy machine start seconds apart.
std::chrono::milliseconds join_timeout(std::chrono::milliseconds rank_timeout);

}  // namespace scmoe::engine
