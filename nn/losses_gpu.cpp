// The CUDA backend of the cross-entropy loss (float32 logits, int32 targets on the device).
//
// The op (kernels/cuda_ops.h) cannot check labels without a host read, so a target outside
// [0, C) that is not ignore_index makes the device loss NaN. loss_value() reads the loss once
// anyway; when it is NaN this file copies the targets to the host (only on that path) and throws
// the CPU path's error naming the label, its index and sample. A NaN from NaN logits, or from a
// batch whose targets are all ignored, is returned as NaN like on the CPU.
#include <cmath>
#include <limits>

#include "kernels/cuda_ops.h"
#include "nn/losses.h"

namespace nsal {

void CrossEntropyLoss::forward_gpu(Context& ctx, const Tensor& logits, const Tensor& target) {
  const int64_t N = logits.dim(0), C = logits.dim(1), S = N > 0 ? target.numel() / N : 0;
  if (N * S == 0) {  // nothing to average: NaN, as PyTorch and the CPU path
    loss_ = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  const float* w = nullptr;
  if (!opt_.class_weights.empty()) {
    // The options are fixed at construction: upload the weights once per device.
    if (weight_.numel() != C || weight_.device() != logits.device() ||
        weight_.dtype() != DType::f32) {
      Tensor host = Tensor::from_vector(opt_.class_weights, {C}, DType::f32);
      weight_.resize({C}, DType::f32, logits.device(), "class weights");
      weight_.copy_from(host);
    }
    w = weight_.data<float>();
  }
  double* weight_sum = gpu_weight_sum(logits.device());
  kernels::gpu::cross_entropy_forward(ctx.gpu(), N, C, S, logits.data<float>(),
                                      target.data<int32_t>(), w, opt_.ignore_index,
                                      kernels::gpu::Reduction::mean, gpu_loss(), weight_sum);
  loss_pending_ = true;
}

void CrossEntropyLoss::check_gpu_loss(double loss) {
  if (!std::isnan(loss) || target_ == nullptr) return;
  const Tensor host = target_->to(Device::cpu());
  const int64_t N = host.ndim() > 0 ? host.dim(0) : 0;
  const int64_t C = input_ ? input_->dim(1) : 0;
  try {
    check_labels(host.data<int32_t>(), host.numel(), C, N > 0 ? host.numel() / N : 0);
  } catch (...) {
    input_ = target_ = nullptr;  // no backward() from a forward whose targets were invalid
    throw;
  }
}

void CrossEntropyLoss::backward_gpu(Context& ctx, double grad_scale) {
  const Tensor& logits = *input_;
  const int64_t N = logits.dim(0), C = logits.dim(1), S = N > 0 ? target_->numel() / N : 0;
  if (N * S == 0) return;
  // The weight sum of the forward stays on the device; backward never reads it on the host.
  kernels::gpu::cross_entropy_backward(
      ctx.gpu(), N, C, S, logits.data<float>(), target_->data<int32_t>(),
      opt_.class_weights.empty() ? nullptr : weight_.data<float>(), opt_.ignore_index,
      kernels::gpu::Reduction::mean, gpu_result_.data<double>(), static_cast<float>(grad_scale),
      grad_.data<float>());
}

}  // namespace nsal
