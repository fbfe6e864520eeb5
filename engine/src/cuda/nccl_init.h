// NCCL communicators with non-blocking initialisation: every init call returns at once, the host polls
// the communicators' state with a deadline and the run's AbortSignal, and aborts them all on an error,
// the timeout or a cancel, so a rank that never joins gives an error instead of a hang.
#pragma once

#include <nccl.h>

#include <chrono>
#include <memory>
#include <vector>

#include "parallel/abort_signal.h"
#include "parallel/communicator.h"

namespace scmoe::engine::cuda {

// Ranks 0..ranks-1 of one clique on GPUs 0..ranks-1 of this process (NCCL allows one rank per GPU).
std::vector<std::unique_ptr<Communicator>> init_local_group(int ranks, const AbortSignal& abort,
                                                            std::chrono::milliseconds timeout);

// Rank `rank` of `world` on GPU `device`, joining the clique named by `id` (from rank 0, see rendezvous.h).
std::unique_ptr<Communicator> init_rank(const ncclUniqueId& id, int world, int rank, int device,
                                        const AbortSignal& abort, std::chrono::milliseconds timeout);

}  // namespace scmoe::engine::cuda
