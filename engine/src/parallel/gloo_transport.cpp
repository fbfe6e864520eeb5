#include "parallel/gloo_transport.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>

#include <cstdlib>

#include "scmoe/engine/launch.h"

namespace scmoe::engine {

namespace {

// How long a failed collective watches the heartbeats before it names the silent rank: long enough for a
// dead rank to count as silent, while a live one beats several times.
constexpr std::chrono::milliseconds kExplainWindow = Watchdog::kSilentAfter * 2;

std::shared_ptr<::gloo::transport::Device> device_towards(const std::string& store_host) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  return c10d::ProcessGroupGloo::createDeviceForHostname(launch::local_address_towards(store_host));
}

std::string error_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

GlooTransport::GlooTransport(RunStore& store, Watchdog& watchdog, const AbortSignal& abort, int rank, int world,
                             std::chrono::milliseconds timeout)
    : store_(store), watchdog_(watchdog), abort_(abort), rank_(rank), world_(world) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // One worker thread: the engine has one collective in flight at a time, and the cores belong to the lanes.
  options->threads = 1;
  try {
    options->devices.push_back(device_towards(store.address().host));
    const auto& c10d_store = *static_cast<c10::intrusive_ptr<c10d::Store>*>(store.c10d_store());
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("scmoe/gloo", c10d_store),
                                                          rank, world, options);
  } catch (const std::exception&) {
    fail("connecting Gloo to the other ranks", error_of(std::current_exception()));
  }
}

GlooTransport::~GlooTransport() {
  // ProcessGroupGloo's destructor joins its threads, which wait for a pending collective until Gloo's
  // timeout; after a failure that would hold this rank (and, through it, rank 0's store) for that long.
  if (pending_) group_.release();
}

void GlooTransport::wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  watchdog_.entered_collective();
  pending_ = true;
  const cuda::PollEnd end = cuda::poll_until([&] { return work->isCompleted() || watchdog_.failure().has_value(); },
                                             &abort_, Clock::time_point::max());
  if (end == cuda::PollEnd::Aborted) {
    if (auto failure = watchdog_.failure()) throw RankFailure(*failure);
    throw Cancelled();
  }
  if (!work->isCompleted()) throw RankFailure(*watchdog_.failure());
  pending_ = false;
  if (!work->isSuccess()) fail(what, error_of(work->exception()));
}

void GlooTransport::fail(const std::string& what, const std::string& error) {
  pending_ = true;
  // A peer's connection closing fails the collective at once: tell which rank went silent.
  std::string message = "rank " + std::to_string(rank_) + ": " + what + " failed: " + error;
  if (auto why = watchdog_.explain(kExplainWindow)) message = *why + " (rank " + std::to_string(rank_) + " noticed in " + what + ")";
  try {
    message = store_.publish_abort(message);
  } catch (const std::exception&) {
    // The store is gone with rank 0: this rank's message stands alone.
  }
  throw RankFailure(message);
}

}  // namespace scmoe::engine
