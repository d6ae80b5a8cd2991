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
//
// Under MathMode::bf16 the units run in bfloat16 channels-last instead (ConvBnUnit::forward_bf16,
// nn/fuse_bf16.cpp; docs/cuda-backend.md "bf16 inference"): the model converts its input once,
// each unit rounds its folded weights and its output to bf16, and the pooling returns to float32.
// Noise-stability scoring turns the fused path on for its passes on a GPU
// (NoiseStabilityConfig::fused).
#pragma once

#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"

namespace nsal {

// Folded weights and bias of one convolution at a time.
struct FoldScratch {
  Tensor w, b;  // float32: (C_out * per_channel), (C_out)
  // The bf16 path's copies of w and b, rounded: weights channels-last (C_out, K, I), bias (C_out).
  Tensor w16, b16;
  // Makes room for `weights` weights and `channels` biases on `device` (allocates only when it
  // grows: call it once before the first fused forward with the model's largest sizes).
  void reserve(int64_t weights, int64_t channels, Device device);
  // The same for w16 and b16.
  void reserve_bf16(int64_t weights, int64_t channels, Device device);
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
  // The bf16 path (MathMode::bf16): x (N, S..., C_in) bfloat16 channels-last, residual null or
  // shaped like the output (N, S'..., C_out) bf16; returns (N, S'..., C_out) bf16. The folded
  // weights and bias are rounded to bf16, the convolution accumulates in float32 and
  // act(conv + residual + bias) is rounded once (nn/fuse_bf16.cpp). On the GPU: cuDNN on tensor
  // cores (NHWC); on the CPU: the same roundings around the float32 convolution, the reference
  // of the GPU path and a way to see bf16's effect without a GPU.
  const Tensor& forward_bf16(Context& ctx, const Tensor& x, const Tensor* residual, bool relu,
                             FoldScratch& scratch);
  const Tensor& output_bf16() const { return y16_; }

  // Whether the last forward ran cuDNN's fused kernel (false on the CPU and where cuDNN fell
  // back to the unfused ops).
  bool fused_kernel() const { return fused_kernel_; }

  int64_t weight_numel() const { return shape_numel(conv_->weight_shape()); }
  int64_t channels() const { return conv_->out_channels(); }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  // Checks mode, parameters and x's device and dtype; folds the BatchNorm into scratch.w / b.
  void check_eval(Context& ctx, const Tensor& x, DType expected) const;
  void fold(Context& ctx, FoldScratch& scratch) const;

  ConvNd* conv_;
  BatchNorm* bn_;
  Tensor y_;
  Tensor y16_;           // bf16 path output (N, S'..., C_out)
  Tensor x32_, conv32_;  // bf16 path on the CPU: x as float32 (N, C_in, S), conv (N, C_out, S')
  bool fused_kernel_ = false;
};

// Channels-last shapes of the bf16 path: (N, C, S...) <-> (N, S..., C).
Shape to_channels_last_shape(const Shape& nchw);
Shape from_channels_last_shape(const Shape& nhwc);

// x (N, C, S...) float32 -> y (N, S..., C) bfloat16 on x's device: the bf16 path's input.
void to_channels_last_bf16(Context& ctx, const Tensor& x, Tensor& y);
// x (N, S..., C) bfloat16 -> y (N, C) float32, the mean over S: the bf16 path's pooling.
void global_avg_pool_channels_last_bf16(Context& ctx, const Tensor& x, Tensor& y);

}  // namespace nsal
