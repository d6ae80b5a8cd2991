// The inference fast path: in eval mode a convolution followed by a BatchNorm runs as ONE
// convolution with the BatchNorm folded into its weights and bias (kernels/bn_fold.h), with the
// ReLU after it, and the residual add before that ReLU, fused into the same call where the
// backend can: cuDNN's conv + bias + activation (+ z) kernel on the GPU
// (kernels::gpu::conv_bias_act_forward, which falls back to the unfused ops where cuDNN does not
// support a shape); on the CPU the convolution with the folded bias, then the add and the ReLU.
// The unfused layers stay the reference; tests/test_fused_inference.cpp (CPU) and
// tests/test_cuda_layers.cpp (GPU) check that both agree.
//
// Folding happens at EVERY fused forward, into one scratch buffer (FoldScratch) shared by the
// units of a model and sized for the largest convolution. Nothing is cached between forwards, so
// weights that change behind the model's back (an optimizer step, or noise-stability
// acquisition, which perturbs the weights in place and restores them) are always folded as they
// are at that moment. The cost is one pass over each folded convolution's weights per forward:
// for resnet18-cifar about 11 M weights read and written, well under 1% of the time of a forward
// at batch 256 on either backend (bench_models_gpu measures the whole forward both ways).
#pragma once

#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"

namespace nsal {

// Folded weights and bias of one convolution at a time.
struct FoldScratch {
  Tensor w, b;
  // Makes room for `weights` weights and `channels` biases on `device` (allocates only when it
  // grows: call it once before the first fused forward with the model's largest sizes).
  void reserve(int64_t weights, int64_t channels, Device device);
};

// A convolution followed by an eval-mode BatchNorm (with running statistics and affine
// parameters), both owned by the model.
class ConvBnUnit {
 public:
  ConvBnUnit(ConvNd* conv, BatchNorm* bn);

  // y = act(bn(conv(x)) + residual): the BatchNorm folded into the convolution, act = ReLU or
  // identity, residual null or shaped like y. x float32, on the device of the weights. Throws
  // naming the layers when a layer is in training mode or a shape does not fit.
  const Tensor& forward(Context& ctx, const Tensor& x, const Tensor* residual, bool relu,
                        FoldScratch& scratch);
  const Tensor& output() const { return y_; }
  // Whether the last forward ran cuDNN's fused kernel (false on the CPU and where cuDNN fell
  // back to the unfused ops).
  bool fused_kernel() const { return fused_kernel_; }

  int64_t weight_numel() const { return shape_numel(conv_->weight_shape()); }
  int64_t channels() const { return conv_->out_channels(); }

 private:
  [[noreturn]] void fail(const std::string& what) const;

  ConvNd* conv_;
  BatchNorm* bn_;
  Tensor y_;
  bool fused_kernel_ = false;
};

}  // namespace nsal
