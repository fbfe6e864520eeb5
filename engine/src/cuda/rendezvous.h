// Multi-process start-up: the NCCL unique id travels from rank 0 to every rank through LibTorch's
// c10d::TCPStore (rank 0 serves it at host:port), the same rendezvous torchrun uses; no home-made network
// code. The store lives until this rank's NCCL initialisation is over: NCCL init completes only once every
// rank has joined, so rank 0's server outlives every other rank's read of the id.
#pragma once

#include <nccl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "parallel/abort_signal.h"
#include "parallel/communicator.h"

namespace scmoe::engine::cuda {

using JoinClique = std::function<std::unique_ptr<Communicator>(const ncclUniqueId&)>;

std::unique_ptr<Communicator> rendezvous(const std::string& host, int port, int world, int rank,
                                         const AbortSignal& abort, std::chrono::milliseconds timeout,
                                         const JoinClique& join);

}  // namespace scmoe::engine::cuda
