// Batch normalisation over the channel dimension (PyTorch's BatchNorm1d/2d/3d).
//
// Training mode normalises with the batch mean and biased variance and updates the running
// statistics as PyTorch does: running = (1 - momentum) * running + momentum * batch, with the
// unbiased batch variance for running_var, and num_batches_tracked += 1 (momentum unset: the
// cumulative average, momentum = 1 / num_batches_tracked). Eval mode uses the running statistics.
//
// On a CUDA device (float32) the layer runs cuDNN's batch normalisation and an own kernel for the
// eval-mode backward; num_batches_tracked is counted on the device. The cumulative average
// (momentum unset) needs the count on the host: that case reads it back once per training
// forward (a host synchronisation); with a momentum (the default 0.1) nothing is read.
//
// Arena entries: parameters "<name>.weight" (gamma, ParamRole::weight) and "<name>.bias" (beta,
// ParamRole::bias) when affine; buffers "<name>.running_mean", "<name>.running_var" and
// "<name>.num_batches_tracked" (a count stored as a float value) when tracking running stats.
#pragma once

#include <optional>
#include <vector>

#include "nn/layer.h"

namespace nsal {

struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;  // nullopt: cumulative moving average
  bool affine = true;
  bool track_running_stats = true;  // false: batch statistics in eval mode too, no buffers
};

class BatchNorm : public Layer {
 public:
  // spatial_dims 1: (N, C) or (N, C, L); 2: (N, C, H, W); 3: (N, C, D, H, W).
  BatchNorm(int spatial_dims, std::string name, int64_t num_features, BatchNormOptions opt = {});

  void declare(ParamArena& arena) override;
  Shape output_shape(const Shape& in) const override;
  BackwardReads backward_reads(bool) const override { return {true, false}; }  // x

  int64_t num_features() const { return num_features_; }
  const BatchNormOptions& options() const { return opt_; }

  Tensor& weight() { return weight_; }  // (C,) gamma
  Tensor& bias() { return bias_; }      // (C,) beta
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }
  Tensor& num_batches_tracked() { return num_batches_tracked_; }  // (1,)

  // The eval-mode transform as y = x * scale[c] + shift[c], scale = gamma / sqrt(running_var +
  // eps), shift = beta - running_mean * scale (double, on the host), e.g. to fold into a conv.
  struct Affine {
    std::vector<double> scale, shift;
  };
  Affine eval_affine() const;

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  bool uses_batch_stats() const { return training() || !opt_.track_running_stats; }
  template <typename T>
  void update_running_stats(int64_t count);
  // The CUDA backend (nn/layers/batchnorm_gpu.cpp), float32.
  void forward_gpu(Context& ctx, const Tensor& x, Tensor& y);
  void backward_gpu(Context& ctx, const Tensor& x, const Tensor& dy, Tensor* dx);
  // A (C,) device tensor of `value` kept in `t` (gamma = 1, beta = 0 without affine parameters).
  const float* gpu_constant(Context& ctx, Tensor& t, float value, Device device);

  int spatial_dims_;
  int64_t num_features_;
  BatchNormOptions opt_;
  Tensor weight_, bias_, dweight_, dbias_;
  Tensor running_mean_, running_var_, num_batches_tracked_;
  Tensor save_mean_, save_invstd_, batch_var_;  // (C,) float64 host: the last batch's statistics
  // GPU backend: the last batch's mean and 1 / sqrt(var + eps) (C,) float32 on the device, the
  // constants that stand in for missing affine parameters, and sinks for gradients cuDNN always
  // writes (dx when not needed, dgamma / dbeta without affine parameters).
  Tensor gpu_mean_, gpu_invstd_, gpu_ones_, gpu_zeros_, gpu_dx_sink_, gpu_grad_sink_;
};

class BatchNorm1d : public BatchNorm {
 public:
  BatchNorm1d(std::string name, int64_t num_features, BatchNormOptions opt = {})
      : BatchNorm(1, std::move(name), num_features, opt) {}
};
class BatchNorm2d : public BatchNorm {
 public:
  BatchNorm2d(std::string name, int64_t num_features, BatchNormOptions opt = {})
      : BatchNorm(2, std::move(name), num_features, opt) {}
};
class BatchNorm3d : public BatchNorm {
 public:
  BatchNorm3d(std::string name, int64_t num_features, BatchNormOptions opt = {})
      : BatchNorm(3, std::move(name), num_features, opt) {}
};

}  // namespace nsal
