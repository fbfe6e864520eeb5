#include "parallel/gloo_watchdog.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace scmoe::engine {

namespace {

std::string beat_key(int rank) { return "scmoe/beat/" + std::to_string(rank); }
std::string left_key(int rank) { return "scmoe/left/" + std::to_string(rank); }

std::string silent_message(int rank, std::chrono::milliseconds silent) {
  return "rank " + std::to_string(rank) + " stopped responding: no heartbeat for " + duration_text(silent) +
         " (the process died, was killed or hangs)";
}

}  // namespace

struct Watchdog::State {
  struct Peer {
    std::string beat;                 // last heartbeat value seen: "<count> <collectives entered>"
    Clock::time_point changed_at;     // when it last changed
    bool left = false;
    std::int64_t collectives() const {
      const auto space = beat.find(' ');
      return space == std::string::npos ? -1 : std::stoll(beat.substr(space + 1));
    }
  };
  State(const StoreAddress& address, int rank, int world, std::chrono::milliseconds stall)
      : store(address, stall),
        rank(rank),
        stall(stall),
        peers(static_cast<std::size_t>(world), Peer{"", Clock::now(), false}) {}

  RunStore store;
  const int rank;
  const std::chrono::milliseconds stall;
  std::atomic<std::int64_t> collectives{0};  // entered by this rank
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  std::vector<Peer> peers;
  std::optional<std::string> failure;
  std::int64_t beats = 0;

  void fail(const std::string& message) {
    std::lock_guard lock(mutex);
    if (!failure) failure = message;
  }

  // One heartbeat: write ours, read the others', look for the abort message.
  void tick() {
    store.set(beat_key(rank), std::to_string(++beats) + " " + std::to_string(collectives.load()));
    const Clock::time_point now = Clock::now();
    for (int r = 0; r < static_cast<int>(peers.size()); ++r) {
      if (r == rank) continue;
      const std::string beat = store.has(beat_key(r)) ? store.get(beat_key(r)) : "";
      std::lock_guard lock(mutex);
      Peer& peer = peers[static_cast<std::size_t>(r)];
      if (beat != peer.beat) {
        peer.beat = beat;
        peer.changed_at = now;
      }
    }
    for (int r = 0; r < static_cast<int>(peers.size()); ++r) {
      Peer& peer = peers[static_cast<std::size_t>(r)];
      if (r == rank || peer.left || now - peer.changed_at < stall) continue;
      // A rank that finished and left the store beats no more, and that is fine.
      peer.left = store.has(left_key(r));
      if (!peer.left) fail(store.publish_abort(silent_message(r, stall)));
    }
    if (auto message = store.abort_message()) fail(*message);
  }

  void run() {
    std::unique_lock lock(mutex);
    while (!stop && !failure) {
      lock.unlock();
      try {
        tick();
      } catch (const std::exception& e) {
        fail(rank == 0 ? std::string("rank 0's rendezvous store stopped answering: ") + e.what()
                       : "rank 0 is gone: its rendezvous store at " + store.address().text() +
                             " does not answer (the process died, was killed or hangs)");
      }
      lock.lock();
      wake.wait_for(lock, kBeatInterval, [&] { return stop; });
    }
  }
};

Watchdog::Watchdog(const StoreAddress& address, int rank, int world, std::chrono::milliseconds stall_timeout)
    : state_(std::make_shared<State>(address, rank, world, stall_timeout)) {
  std::thread([state = state_] { state->run(); }).detach();
}

Watchdog::~Watchdog() {
  std::lock_guard lock(state_->mutex);
  state_->stop = true;
  state_->wake.notify_all();
  // The thread holds the state; it ends after its current heartbeat (at most the store's timeout when
  // rank 0 stopped answering) without holding up this rank's exit.
}

std::vector<int> Watchdog::silent_ranks() const {
  std::lock_guard lock(state_->mutex);
  std::vector<int> out;
  const Clock::time_point now = Clock::now();
  for (int r = 0; r < static_cast<int>(state_->peers.size()); ++r) {
    const State::Peer& peer = state_->peers[static_cast<std::size_t>(r)];
    if (r != state_->rank && !peer.left && now - peer.changed_at > kSilentAfter) out.push_back(r);
  }
  return out;
}

void Watchdog::entered_collective() { state_->collectives.fetch_add(1, std::memory_order_relaxed); }

std::optional<std::string> Watchdog::failure() const {
  std::lock_guard lock(state_->mutex);
  return state_->failure;
}

std::optional<std::string> Watchdog::explain(std::chrono::milliseconds window) {
  const Clock::time_point start = Clock::now();
  while (Clock::now() - start < window) {
    if (auto f = failure()) return f;
    std::this_thread::sleep_for(kBeatInterval / 2);
  }
  if (auto f = failure()) return f;
  const std::vector<int> silent = silent_ranks();
  std::lock_guard lock(state_->mutex);
  if (!silent.empty()) {
    const auto silent_for = Clock::now() - state_->peers[static_cast<std::size_t>(silent.front())].changed_at;
    return silent_message(silent.front(), std::chrono::duration_cast<std::chrono::milliseconds>(silent_for));
  }
  // Every rank beats: one that entered fewer collectives than this one is stuck between them (a long or
  // deadlocked operator), the others wait for it in the next.
  const std::int64_t own = state_->collectives.load();
  for (int r = 0; r < static_cast<int>(state_->peers.size()); ++r) {
    const std::int64_t entered = state_->peers[static_cast<std::size_t>(r)].collectives();
    if (r != state_->rank && entered >= 0 && entered < own) {
      return "rank " + std::to_string(r) + " is behind: it entered " + std::to_string(entered) +
             " collectives, rank " + std::to_string(state_->rank) + " " + std::to_string(own) +
             " (it is busy or stuck between two)";
    }
  }
  return std::nullopt;
}

}  // namespace scmoe::engine
