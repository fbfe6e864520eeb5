#include "model/moe_output.h"

namespace scmoe::engine {

at::Tensor moe_block_output(const BlockMoeWeights& w, CombineMode mode, bool post_sum_norm, const at::Tensor& residual,
                            const at::Tensor& se_input, const std::optional<at::Tensor>& shared,
                            const at::Tensor& routed) {
  at::Tensor mix = routed;
  if (shared) {
    switch (mode) {
      case CombineMode::DirectAdd:
        mix = *shared + routed;
        break;
      case CombineMode::CG1:
        mix = at::sigmoid(at::matmul(se_input, w.cg1)).unsqueeze(1) * *shared + routed;
        break;
      case CombineMode::CG2: {
        const at::Tensor c = at::softmax(at::matmul(se_input, w.cg2), -1);
        mix = c.select(1, 0).unsqueeze(1) * *shared + c.select(1, 1).unsqueeze(1) * routed;
        break;
      }
    }
  }
  return residual + (post_sum_norm ? w.ln_post_sum(mix) : mix);
}

}  // namespace scmoe::engine
