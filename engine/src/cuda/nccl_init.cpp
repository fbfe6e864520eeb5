#include "nccl_init.h"

#include <stdexcept>
#include <string>

#include "cuda_error.h"
#include "nccl_communicator.h"
#include "poll.h"

namespace scmoe::engine::cuda {

namespace {

ncclConfig_t non_blocking_config() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  return config;
}

void abort_all(std::vector<ncclComm_t>& comms) {
  for (ncclComm_t& comm : comms) {
    if (comm != nullptr) ncclCommAbort(comm);
    comm = nullptr;
  }
}

// Polls every communicator until none is still initialising. On an error, the timeout or a cancel, all of
// them are aborted (a half-initialised clique is useless) and the reason thrown.
void wait_until_ready(std::vector<ncclComm_t>& comms, const AbortSignal& abort, std::chrono::milliseconds timeout,
                      const std::string& what) {
  std::size_t failed = comms.size();
  ncclResult_t failure = ncclSuccess;
  const PollEnd end = poll_until(
      [&] {
        bool all_ready = true;
        for (std::size_t i = 0; i < comms.size(); ++i) {
          ncclResult_t state = ncclInProgress;
          const ncclResult_t status = ncclCommGetAsyncError(comms[i], &state);
          if (status != ncclSuccess) state = status;
          if (state == ncclInProgress) {
            all_ready = false;
          } else if (state != ncclSuccess) {
            failed = i;
            failure = state;
            return true;
          }
        }
        return all_ready;
      },
      &abort, Clock::now() + timeout);
  if (end == PollEnd::Ready && failed == comms.size()) return;
  std::string message;
  if (end == PollEnd::Aborted) {
    abort_all(comms);
    throw Cancelled();
  }
  if (end == PollEnd::TimedOut) {
    message = what + ": not every rank joined within " + duration_text(timeout) +
              " (NCCL initialisation timed out; communicators aborted)";
  } else {
    message = nccl_message(what + " (rank " + std::to_string(failed) + ")", failure, comms[failed]);
  }
  abort_all(comms);
  throw std::runtime_error(message);
}

}  // namespace

std::vector<std::unique_ptr<Communicator>> init_local_group(int ranks, const AbortSignal& abort,
                                                            std::chrono::milliseconds timeout) {
  const std::string what = "NCCL initialisation of " + std::to_string(ranks) + " local ranks";
  ncclUniqueId id;
  const ncclResult_t id_status = ncclGetUniqueId(&id);
  if (id_status != ncclSuccess) throw std::runtime_error(nccl_message(what + ": ncclGetUniqueId", id_status, nullptr));

  // One thread initialises every rank, so the calls go in one group (otherwise the first would wait for
  // the others); each rank's device must be current at its call.
  ncclConfig_t config = non_blocking_config();
  std::vector<ncclComm_t> comms(std::size_t(ranks), nullptr);
  {
    DeviceGuard guard;
    const ncclResult_t start = ncclGroupStart();
    if (start != ncclSuccess) throw std::runtime_error(nccl_message(what + ": ncclGroupStart", start, nullptr));
    ncclResult_t status = ncclSuccess;
    std::string failed_call;
    for (int rank = 0; rank < ranks && nccl_ok(status); ++rank) {
      if (const cudaError_t set = cudaSetDevice(rank); set != cudaSuccess) {
        status = ncclUnhandledCudaError;
        failed_call = std::string("cudaSetDevice(") + std::to_string(rank) + "): " + cudaGetErrorString(set);
        break;
      }
      status = ncclCommInitRankConfig(&comms[std::size_t(rank)], ranks, id, rank, &config);
      if (!nccl_ok(status)) failed_call = "ncclCommInitRankConfig(rank " + std::to_string(rank) + ")";
    }
    const ncclResult_t end = ncclGroupEnd();
    if (!nccl_ok(status) || !nccl_ok(end)) {
      const std::string message = nccl_message(what + ": " + (nccl_ok(status) ? "ncclGroupEnd" : failed_call),
                                               nccl_ok(status) ? end : status, nullptr);
      abort_all(comms);
      throw std::runtime_error(message);
    }
  }
  wait_until_ready(comms, abort, timeout, what);

  std::vector<std::unique_ptr<Communicator>> out;
  out.reserve(comms.size());
  try {
    for (int rank = 0; rank < ranks; ++rank) {
      out.push_back(std::make_unique<NcclCommunicator>(comms[std::size_t(rank)], rank, ranks, rank, abort, timeout));
      comms[std::size_t(rank)] = nullptr;  // owned by the communicator now
    }
  } catch (...) {
    abort_all(comms);
    throw;
  }
  return out;
}

std::unique_ptr<Communicator> init_rank(const ncclUniqueId& id, int world, int rank, int device,
                                        const AbortSignal& abort, std::chrono::milliseconds timeout) {
  const std::string what =
      "NCCL initialisation of rank " + std::to_string(rank) + " of " + std::to_string(world) + " on GPU " +
      std::to_string(device);
  ncclConfig_t config = non_blocking_config();
  std::vector<ncclComm_t> comms(1, nullptr);
  {
    DeviceGuard guard(device);
    const ncclResult_t status = ncclCommInitRankConfig(&comms[0], world, id, rank, &config);
    if (!nccl_ok(status)) {
      const std::string message = nccl_message(what + ": ncclCommInitRankConfig", status, comms[0]);
      abort_all(comms);
      throw std::runtime_error(message);
    }
  }
  wait_until_ready(comms, abort, timeout, what);
  try {
    return std::make_unique<NcclCommunicator>(comms[0], rank, world, device, abort, timeout);
  } catch (...) {
    abort_all(comms);
    throw;
  }
}

}  // namespace scmoe::engine::cuda
