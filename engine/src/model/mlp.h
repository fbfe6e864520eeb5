// The GELU MLP: the Block-MLP's dense MLP, every routed expert and the shared expert.
#pragma once

#include <ATen/ATen.h>

#include "model/weights.h"

namespace scmoe::engine {

at::Tensor gelu_mlp(const MlpWeights& w, const at::Tensor& x);

}  // namespace scmoe::engine
