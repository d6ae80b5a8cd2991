#include "nn/layers/batchnorm.h"

#include <cmath>

#include "kernels/batchnorm.h"
#include "kernels/cpu/batchnorm_cpu.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

static const char* bn_type(int spatial_dims) {
  switch (spatial_dims) {
    case 1:
      return "batchnorm1d";
    case 2:
      return "batchnorm2d";
    case 3:
      return "batchnorm3d";
  }
  throw Error("BatchNorm: spatial_dims must be 1, 2 or 3, got " + std::to_string(spatial_dims));
}

BatchNorm::BatchNorm(int spatial_dims, std::string name, int64_t num_features, BatchNormOptions opt)
    : Layer(bn_type(spatial_dims), std::move(name)),
      spatial_dims_(spatial_dims),
      num_features_(num_features),
      opt_(opt) {
  if (num_features < 1) fail("num_features must be positive, got " + std::to_string(num_features));
  if (!(opt.eps > 0)) fail("eps must be positive, got " + std::to_string(opt.eps));
  if (opt.momentum && !(*opt.momentum >= 0 && *opt.momentum <= 1))
    fail("momentum must lie in [0, 1], got " + std::to_string(*opt.momentum));
}

void BatchNorm::declare(ParamArena& arena) {
  if (opt_.affine) {
    arena.add_param(prefixed("weight"), {num_features_}, type(), ParamRole::weight, &weight_,
                    &dweight_);
    arena.add_param(prefixed("bias"), {num_features_}, type(), ParamRole::bias, &bias_, &dbias_);
  }
  if (opt_.track_running_stats) {
    arena.add_buffer(prefixed("running_mean"), {num_features_}, type(), &running_mean_);
    arena.add_buffer(prefixed("running_var"), {num_features_}, type(), &running_var_);
    arena.add_buffer(prefixed("num_batches_tracked"), {1}, type(), &num_batches_tracked_);
  }
}

Shape BatchNorm::output_shape(const Shape& in) const {
  const bool rank_ok = spatial_dims_ == 1 ? (in.size() == 2 || in.size() == 3)
                                          : in.size() == static_cast<size_t>(spatial_dims_) + 2;
  if (!rank_ok) {
    const char* expected = spatial_dims_ == 1   ? "(N, C) or (N, C, L)"
                           : spatial_dims_ == 2 ? "(N, C, H, W)"
                                                : "(N, C, D, H, W)";
    fail(std::string("expected input ") + expected + ", got " + shape_str(in));
  }
  if (in[1] != num_features_)
    fail("expected " + std::to_string(num_features_) + " channels (dimension 1), got input " +
         shape_str(in));
  return in;
}

template <typename T>
void BatchNorm::update_running_stats(int64_t count) {
  T* rm = running_mean_.data<T>();
  T* rv = running_var_.data<T>();
  T* nbt = num_batches_tracked_.data<T>();
  nbt[0] = static_cast<T>(static_cast<double>(nbt[0]) + 1.0);
  const double momentum = opt_.momentum ? *opt_.momentum : 1.0 / static_cast<double>(nbt[0]);
  const double* mean = save_mean_.data<double>();
  const double* var = batch_var_.data<double>();
  for (int64_t c = 0; c < num_features_; ++c) {
    rm[c] =
        static_cast<T>(kernels::bn_running_update(static_cast<double>(rm[c]), mean[c], momentum));
    rv[c] = static_cast<T>(kernels::bn_running_update(
        static_cast<double>(rv[c]), kernels::bn_unbiased_var(var[c], static_cast<double>(count)),
        momentum));
  }
}

void BatchNorm::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  if (opt_.affine) {
    check_param(x, weight_, "weight");
    check_param(x, bias_, "bias");
  }
  if (opt_.track_running_stats) {
    check_param(x, running_mean_, "running_mean");
    check_param(x, running_var_, "running_var");
  }
  if (use_gpu(x)) {
    forward_gpu(ctx, x, y);
    return;
  }
  const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / (N * C > 0 ? N * C : 1);
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    const T* gamma = opt_.affine ? weight_.data<T>() : nullptr;
    const T* beta = opt_.affine ? bias_.data<T>() : nullptr;
    if (!uses_batch_stats()) {
      kernels::cpu::batchnorm_forward_eval(x.data<T>(), N, C, S, gamma, beta,
                                           running_mean_.data<T>(), running_var_.data<T>(),
                                           opt_.eps, y.data<T>());
      return;
    }
    if (N * S <= 1)
      fail("expected more than 1 value per channel when using batch statistics, got input " +
           shape_str(x.shape()));
    save_mean_.resize({C}, DType::f64, Device::cpu(), "batchnorm statistics");
    save_invstd_.resize({C}, DType::f64, Device::cpu(), "batchnorm statistics");
    batch_var_.resize({C}, DType::f64, Device::cpu(), "batchnorm statistics");
    kernels::cpu::batchnorm_forward_train(x.data<T>(), N, C, S, gamma, beta, opt_.eps, y.data<T>(),
                                          save_mean_.data<double>(), save_invstd_.data<double>(),
                                          batch_var_.data<double>());
    if (training() && opt_.track_running_stats) update_running_stats<T>(N * S);
  });
}

void BatchNorm::backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                              Tensor* dx) {
  (void)y;
  if (use_gpu(x)) {
    backward_gpu(ctx, x, dy, dx);
    return;
  }
  const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / (N * C > 0 ? N * C : 1);
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    if (!uses_batch_stats()) {
      kernels::cpu::batchnorm_backward_eval(
          x.data<T>(), dy.data<T>(), N, C, S, opt_.affine ? weight_.data<T>() : nullptr,
          running_mean_.data<T>(), running_var_.data<T>(), opt_.eps, dx ? dx->data<T>() : nullptr,
          opt_.affine ? dweight_.data<T>() : nullptr, opt_.affine ? dbias_.data<T>() : nullptr);
      return;
    }
    kernels::cpu::batchnorm_backward_train(
        x.data<T>(), dy.data<T>(), N, C, S, save_mean_.data<double>(), save_invstd_.data<double>(),
        opt_.affine ? weight_.data<T>() : nullptr, dx ? dx->data<T>() : nullptr,
        opt_.affine ? dweight_.data<T>() : nullptr, opt_.affine ? dbias_.data<T>() : nullptr);
  });
}

BatchNorm::Affine BatchNorm::eval_affine() const {
  if (!opt_.track_running_stats)
    fail("eval_affine(): the layer keeps no running statistics (track_running_stats is off)");
  if (running_mean_.raw() == nullptr)
    fail("eval_affine(): buffers are not allocated (build the model's arena first)");
  const std::vector<double> rm = running_mean_.to_vector(), rv = running_var_.to_vector();
  std::vector<double> gamma(rm.size(), 1.0), beta(rm.size(), 0.0);
  if (opt_.affine) {
    gamma = weight_.to_vector();
    beta = bias_.to_vector();
  }
  Affine a;
  a.scale.resize(rm.size());
  a.shift.resize(rm.size());
  for (size_t c = 0; c < rm.size(); ++c)
    kernels::bn_scale_shift(gamma[c], beta[c], rm[c], kernels::bn_invstd(rv[c], opt_.eps),
                            a.scale[c], a.shift[c]);
  return a;
}

}  // namespace nsal
