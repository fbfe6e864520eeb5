#include "model/mlp.h"

namespace scmoe::engine {

at::Tensor gelu_mlp(const MlpWeights& w, const at::Tensor& x) {
  return at::addmm(w.b2, at::gelu(at::addmm(w.b1, x, w.w1)), w.w2);
}

}  // namespace scmoe::engine
