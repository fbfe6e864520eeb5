#include "parallel/gloo_store.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "scmoe/engine/launch.h"

namespace scmoe::engine {

namespace {

constexpr const char* kAbortKey = "scmoe/abort";
constexpr const char* kAbortClaimsKey = "scmoe/abort_claims";

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

std::string error_text(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

c10::intrusive_ptr<c10d::Store> connect(const StoreAddress& address, bool serve, int world,
                                         std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(address.port);
  options.isServer = serve;
  if (serve) options.numWorkers = static_cast<std::size_t>(world);
  // The server does not wait for the others here: the rendezvous waits for them watching the abort key
  // and the run's AbortSignal, which a blocking constructor would not.
  options.waitWorkers = false;
  options.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(address.host, options);
}

}  // namespace

struct RunStore::Impl {
  c10::intrusive_ptr<c10d::Store> store;
};

RunStore::RunStore(const StoreAddress& address, int rank, int world, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), address_(address), timeout_(timeout) {
  try {
    impl_->store = connect(address, rank == 0, world, timeout);
  } catch (const std::exception& e) {
    if (rank == 0) {
      const std::string in_use = launch::check_port_free(address.port);
      throw std::runtime_error("rank 0 cannot serve the rendezvous store at " + address.text() + ": " +
                               (in_use.empty() ? error_text(e) : in_use));
    }
    throw std::runtime_error("rank " + std::to_string(rank) + " cannot reach rank 0's rendezvous store at " +
                             address.text() + " within " + duration_text(timeout) +
                             " (is rank 0 running, and is the address right?): " + error_text(e));
  }
}

RunStore::RunStore(const StoreAddress& address, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), address_(address), timeout_(timeout) {
  impl_->store = connect(address, false, 0, timeout);
}

RunStore::~RunStore() = default;

void RunStore::set(const std::string& key, const std::string& value) { impl_->store->set(key, bytes(value)); }
std::string RunStore::get(const std::string& key) { return text(impl_->store->get(key)); }
bool RunStore::has(const std::string& key) { return impl_->store->check({key}); }
std::int64_t RunStore::add(const std::string& key, std::int64_t delta) { return impl_->store->add(key, delta); }
void RunStore::wait(const std::string& key) { impl_->store->wait({key}, timeout_); }

bool RunStore::wait_for(const std::vector<std::string>& keys, Clock::time_point deadline, const AbortSignal* abort,
                        bool watch_abort_message) {
  const auto sleep = std::chrono::milliseconds(5);  // each check is a round trip to rank 0
  for (;;) {
    if (impl_->store->check(keys)) return true;
    if (watch_abort_message) {
      if (auto message = abort_message()) throw RankFailure(*message);
    }
    if (abort != nullptr) abort->throw_if_triggered();
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(sleep);
  }
}

std::string RunStore::publish_abort(const std::string& message) {
  if (add(kAbortClaimsKey, 1) == 1) {
    set(kAbortKey, message);
    return message;
  }
  return get(kAbortKey);  // the first rank's, being written
}

std::optional<std::string> RunStore::abort_message() {
  if (!has(kAbortKey)) return std::nullopt;
  return get(kAbortKey);
}

void* RunStore::c10d_store() { return &impl_->store; }

std::chrono::milliseconds rank_timeout() {
  const char* text = std::getenv("SCMOE_RANK_TIMEOUT_S");
  if (text != nullptr) {
    char* end = nullptr;
    const double seconds = std::strtod(text, &end);
    if (end != text && *end == '\0' && seconds > 0.0 && seconds <= 86400.0) {
      return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
    }
    throw std::runtime_error("SCMOE_RANK_TIMEOUT_S: expected seconds in (0, 86400], got \"" + std::string(text) + "\"");
  }
  return std::chrono::seconds(30);
}

std::chrono::milliseconds join_timeout(std::chrono::milliseconds rank_timeout) {
  return std::max<std::chrono::milliseconds>(rank_timeout, std::chrono::seconds(30));
}

}  // namespace scmoe::engine
