// Spatial BatchNorm on cuDNN (cudnnBatchNormalization*). x is seen as (N, C, S, 1): spatial mode
// normalises each channel over N and every spatial position, so any spatial layout (1D, 2D, 3D)
// flattens to S.
//
// Running statistics: cuDNN updates running_var with the unbiased batch variance
// (count / (count - 1) times the biased one), the same rule as PyTorch's BatchNorm; the GPU test
// BatchNormTrainMatchesReference checks it against a reference written out in the test. The
// saved statistics are the batch mean and 1 / sqrt(biased variance + eps).
#include <climits>

#include "kernels/cuda/check.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"
#include "kernels/memory.h"

namespace nsal::kernels::gpu {

namespace {

struct BnDescs {
  cudnnTensorDescriptor_t x, stats;
};

BnDescs bn_descs(const GpuExec& ex, int64_t n, int64_t c, int64_t s, double eps, const char* op) {
  cuda::check_positive(n, "N", op);
  cuda::check_positive(c, "C", op);
  cuda::check_positive(s, "S (spatial size)", op);
  NSAL_CHECK_AS(ShapeError, n <= INT_MAX && c <= INT_MAX && s <= INT_MAX,
                "{}: (N, C, S) = ({}, {}, {}) has a size over 2^31 - 1", op, n, c, s);
  const int64_t limit = kernels::descriptor_element_limit();
  NSAL_CHECK_AS(BatchTooLargeError, n * c <= limit && n * c * s <= limit,  // no int64 overflow
                "{}: (N, C, S) = ({}, {}, {}) has more than {} elements", op, n, c, s, limit);
  NSAL_CHECK(eps > 0 && eps >= CUDNN_BN_MIN_EPSILON, "{}: eps must be positive, got {}", op, eps);
  GpuHandles& h = cuda::handles_of(ex, op);
  int xd[4] = {static_cast<int>(n), static_cast<int>(c), static_cast<int>(s), 1};
  int sd[4] = {1, static_cast<int>(c), 1, 1};
  return {h.descs().tensor(xd, 4), h.descs().tensor(sd, 4)};
}

}  // namespace

void batchnorm_forward_train(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                             const float* gamma, const float* beta, double momentum, double eps,
                             float* running_mean, float* running_var, float* save_mean,
                             float* save_invstd, float* y) {
  const char* op = "batchnorm_forward_train";
  BnDescs d = bn_descs(ex, n, c, s, eps, op);
  NSAL_CHECK_AS(ShapeError, n * s > 1,
                "{}: training needs more than one value per channel, got N={} S={}", op, n, s);
  NSAL_CHECK(momentum >= 0 && momentum <= 1, "{}: momentum must be in [0, 1], got {}", op,
             momentum);
  NSAL_CHECK((running_mean == nullptr) == (running_var == nullptr),
             "{}: running_mean and running_var must both be given or both be null", op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(gamma, "gamma", op);
  cuda::check_device_ptr(beta, "beta", op);
  cuda::check_device_ptr_or_null(running_mean, "running_mean", op);
  cuda::check_device_ptr_or_null(running_var, "running_var", op);
  cuda::check_device_ptr(save_mean, "save_mean", op);
  cuda::check_device_ptr(save_invstd, "save_invstd", op);
  cuda::check_device_ptr(y, "y", op);
  const float one = 1.f, zero = 0.f;
  NSAL_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      ex.handles->cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x, d.x, y, d.stats, gamma,
      beta, momentum, running_mean, running_var, eps, save_mean, save_invstd));
}

void batchnorm_forward_eval(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                            const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, double eps, float* y) {
  const char* op = "batchnorm_forward_eval";
  BnDescs d = bn_descs(ex, n, c, s, eps, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(gamma, "gamma", op);
  cuda::check_device_ptr(beta, "beta", op);
  cuda::check_device_ptr(running_mean, "running_mean", op);
  cuda::check_device_ptr(running_var, "running_var", op);
  cuda::check_device_ptr(y, "y", op);
  const float one = 1.f, zero = 0.f;
  NSAL_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      ex.handles->cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x, d.x, y, d.stats, gamma,
      beta, running_mean, running_var, eps));
}

void batchnorm_backward(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                        const float* dy, const float* gamma, const float* save_mean,
                        const float* save_invstd, double eps, float* dx, float* dgamma,
                        float* dbeta) {
  const char* op = "batchnorm_backward";
  BnDescs d = bn_descs(ex, n, c, s, eps, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(dy, "dy", op);
  cuda::check_device_ptr(gamma, "gamma", op);
  cuda::check_device_ptr(save_mean, "save_mean", op);
  cuda::check_device_ptr(save_invstd, "save_invstd", op);
  cuda::check_device_ptr(dx, "dx", op);
  cuda::check_device_ptr(dgamma, "dgamma", op);
  cuda::check_device_ptr(dbeta, "dbeta", op);
  // dx overwritten (beta 0); dgamma, dbeta accumulated (beta 1).
  const float one = 1.f, zero = 0.f;
  NSAL_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      ex.handles->cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &one, d.x, x, d.x, dy, d.x,
      dx, d.stats, gamma, dgamma, dbeta, eps, save_mean, save_invstd));
}

}  // namespace nsal::kernels::gpu
