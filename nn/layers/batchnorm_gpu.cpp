// The CUDA backend of BatchNorm (float32): cuDNN's spatial batch normalisation for the training
// and eval forwards and the training backward, an own kernel for the eval-mode backward
// (kernels/cuda_ops.h). Statistics and the batch counter stay on the device.
#include "kernels/cuda_ops.h"
#include "kernels/memory.h"
#include "nn/layers/batchnorm.h"

namespace nsal {

const float* BatchNorm::gpu_constant(Context& ctx, Tensor& t, float value, Device device) {
  if (t.numel() != num_features_ || t.device() != device) {  // first use: allocate and fill once
    t.resize({num_features_}, DType::f32, device, "batchnorm constant");
    kernels::gpu::fill(ctx.gpu(), t.data<float>(), num_features_, value);
  }
  return t.data<float>();
}

void BatchNorm::forward_gpu(Context& ctx, const Tensor& x, Tensor& y) {
  const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / (N * C > 0 ? N * C : 1);
  const bool batch_stats = uses_batch_stats();
  if (batch_stats && N * S <= 1)
    fail("expected more than 1 value per channel when using batch statistics, got input " +
         shape_str(x.shape()));
  if (x.numel() == 0) return;
  const kernels::GpuExec ex = ctx.gpu();
  const float* gamma =
      opt_.affine ? weight_.data<float>() : gpu_constant(ctx, gpu_ones_, 1.f, x.device());
  const float* beta =
      opt_.affine ? bias_.data<float>() : gpu_constant(ctx, gpu_zeros_, 0.f, x.device());
  if (!batch_stats) {
    kernels::gpu::batchnorm_forward_eval(ex, N, C, S, x.data<float>(), gamma, beta,
                                         running_mean_.data<float>(), running_var_.data<float>(),
                                         opt_.eps, y.data<float>());
    return;
  }
  gpu_mean_.resize({C}, DType::f32, x.device(), "batchnorm statistics");
  gpu_invstd_.resize({C}, DType::f32, x.device(), "batchnorm statistics");
  const bool update = training() && opt_.track_running_stats;
  double momentum = 0.0;
  if (update) {
    float* count = num_batches_tracked_.data<float>();
    if (opt_.momentum) {
      momentum = *opt_.momentum;
    } else {
      // Cumulative average: momentum = 1 / (batches so far + 1). The count lives on the device,
      // so this one case reads it back (a synchronisation) each training forward.
      float tracked = 0.f;
      kernels::copy_bytes(&tracked, false, count, true, sizeof(float));
      momentum = 1.0 / (static_cast<double>(tracked) + 1.0);
    }
    kernels::gpu::add_scalar(ex, count, 1, 1.f);
  }
  kernels::gpu::batchnorm_forward_train(
      ex, N, C, S, x.data<float>(), gamma, beta, momentum, opt_.eps,
      update ? running_mean_.data<float>() : nullptr, update ? running_var_.data<float>() : nullptr,
      gpu_mean_.data<float>(), gpu_invstd_.data<float>(), y.data<float>());
}

void BatchNorm::backward_gpu(Context& ctx, const Tensor& x, const Tensor& dy, Tensor* dx) {
  const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / (N * C > 0 ? N * C : 1);
  if (x.numel() == 0) return;
  const kernels::GpuExec ex = ctx.gpu();
  if (!uses_batch_stats()) {
    kernels::gpu::batchnorm_backward_eval(ex, N, C, S, x.data<float>(), dy.data<float>(),
                                          opt_.affine ? weight_.data<float>() : nullptr,
                                          running_mean_.data<float>(), running_var_.data<float>(),
                                          opt_.eps, dx ? dx->data<float>() : nullptr,
                                          opt_.affine ? dweight_.data<float>() : nullptr,
                                          opt_.affine ? dbias_.data<float>() : nullptr);
    return;
  }
  if (gpu_mean_.numel() != C) fail("backward() on the GPU without a batch-statistics forward");
  // cuDNN writes dx, dgamma and dbeta unconditionally: point the unneeded ones at sinks.
  float* dxp = dx ? dx->data<float>() : nullptr;
  if (!dxp) {
    gpu_dx_sink_.resize(x.shape(), DType::f32, x.device(), "batchnorm gradient sink");
    dxp = gpu_dx_sink_.data<float>();
  }
  float *dgamma = nullptr, *dbeta = nullptr;
  if (opt_.affine) {
    dgamma = dweight_.data<float>();
    dbeta = dbias_.data<float>();
  } else {
    gpu_grad_sink_.resize({2 * C}, DType::f32, x.device(), "batchnorm gradient sink");
    dgamma = gpu_grad_sink_.data<float>();
    dbeta = dgamma + C;
  }
  const float* gamma =
      opt_.affine ? weight_.data<float>() : gpu_constant(ctx, gpu_ones_, 1.f, x.device());
  kernels::gpu::batchnorm_backward(ex, N, C, S, x.data<float>(), dy.data<float>(), gamma,
                                   gpu_mean_.data<float>(), gpu_invstd_.data<float>(), opt_.eps,
                                   dxp, dgamma, dbeta);
}

}  // namespace nsal
