// This rank's Communicator over c10d's ProcessGroupGloo (gloo_communicator.cpp).
#pragma once

#include <memory>

#include "parallel/communicator.h"
#include "parallel/gloo_transport.h"

namespace scmoe::engine {

// `transport` must outlive the communicator.
std::unique_ptr<Communicator> make_gloo_communicator(GlooTransport& transport);

}  // namespace scmoe::engine
