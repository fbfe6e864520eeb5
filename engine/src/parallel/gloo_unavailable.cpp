// Built instead of the Gloo transport (gloo_transport/communicator/process_group.cpp) where LibTorch's
// headers have no c10d ProcessGroupGloo (engine/CMakeLists.txt checks): a CPU run with world_size > 1 is
// then one error at its start; everything else works.
#include <stdexcept>

#include "parallel/gloo_process_group.h"

namespace scmoe::engine {

struct GlooProcessGroup::Impl {};

GlooProcessGroup::GlooProcessGroup(const EngineConfig&, const AbortSignal&) {
  throw std::runtime_error("world_size > 1 on the CPU needs c10d's ProcessGroupGloo, whose headers this build's "
                           "LibTorch lacks (Debian: libtorch-dev with libgloo-dev)");
}

GlooProcessGroup::~GlooProcessGroup() = default;
std::unique_ptr<Communicator> GlooProcessGroup::communicator() { return nullptr; }
void GlooProcessGroup::merge_iteration(ForwardResult&) {}
void GlooProcessGroup::report_failure(std::exception_ptr) {}

}  // namespace scmoe::engine
