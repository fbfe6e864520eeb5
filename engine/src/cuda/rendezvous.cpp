#include "rendezvous.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cuda_error.h"
#include "poll.h"

namespace scmoe::engine::cuda {

namespace {

constexpr const char* kIdKey = "scmoe/nccl_unique_id";

std::vector<std::uint8_t> id_bytes(const ncclUniqueId& id) {
  const auto* begin = reinterpret_cast<const std::uint8_t*>(&id);
  return {begin, begin + sizeof(id)};
}

}  // namespace

std::unique_ptr<Communicator> rendezvous(const std::string& host, int port, int world, int rank,
                                         const AbortSignal& abort, std::chrono::milliseconds timeout,
                                         const JoinClique& join) {
  const std::string where = "rendezvous of rank " + std::to_string(rank) + " of " + std::to_string(world) +
                            " at " + host + ":" + std::to_string(port);
  const Clock::time_point deadline = Clock::now() + timeout;
  c10::intrusive_ptr<c10d::TCPStore> store;
  ncclUniqueId id;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(port);
    options.isServer = rank == 0;
    options.numWorkers = static_cast<std::size_t>(world);
    // The server must not wait for the workers here: the id is published after construction, and the
    // waits below watch the AbortSignal, which a blocking constructor would not.
    options.waitWorkers = false;
    options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(host, options);
    if (rank == 0) {
      const ncclResult_t status = ncclGetUniqueId(&id);
      if (status != ncclSuccess) throw std::runtime_error(nccl_message("ncclGetUniqueId", status, nullptr));
      store->set(kIdKey, id_bytes(id));
    } else {
      // Each check is a round trip to rank 0: ask every 10 ms, not at poll_until's pace.
      const PollEnd end = poll_until(
          [&] {
            if (store->check({kIdKey})) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            return false;
          },
          &abort, deadline);
      if (end == PollEnd::Aborted) throw Cancelled();
      if (end == PollEnd::TimedOut) {
        throw std::runtime_error("rank 0 did not publish the NCCL id within " + duration_text(timeout));
      }
      const std::vector<std::uint8_t> bytes = store->get(kIdKey);
      if (bytes.size() != sizeof(id)) {
        throw std::runtime_error("the NCCL id from rank 0 has " + std::to_string(bytes.size()) + " bytes, expected " +
                                 std::to_string(sizeof(id)) + " (a different NCCL version?)");
      }
      std::memcpy(&id, bytes.data(), sizeof(id));
    }
  } catch (const Cancelled&) {
    throw;
  } catch (const c10::Error& e) {
    throw std::runtime_error(where + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw std::runtime_error(where + ": " + e.what());
  }
  return join(id);
}

}  // namespace scmoe::engine::cuda
