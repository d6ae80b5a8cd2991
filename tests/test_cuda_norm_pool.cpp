// BatchNorm (cuDNN), pooling (cuDNN average, own max) and global average pooling on the GPU
// against the float64 references.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cuda_test_util.h"
#include "tests/gpu_reference.h"

namespace nsal {
namespace {

// A GPU test of this file: skips with the reason when no device answers.
class CudaNormPool : public testing::CudaTest {};

using testing::expect_close;
using testing::expect_rel_l2;
using testing::f32;
using testing::random_floats;
using testing::to_double;
using testing::to_gpu;
using testing::to_host;

struct BnShape {
  int64_t n, c, s;
};

// Training forward: y, the saved statistics and the running statistics (PyTorch's rule: the
// running variance takes the UNBIASED batch variance). Tolerances: fp32 means and variances
// over at most 2^17 values; 1e-4 relative on y, 1e-5 on the statistics. The biased/unbiased
// factor is count / (count - 1): 2.6% (count 40) and 100% (count 2) for the first two shapes,
// far above the tolerance even after momentum 0.1, so the running-variance check tells them
// apart there (the third shape checks the large-batch kernels).
TEST_F(CudaNormPool, BatchNormTrainMatchesReference) {
  for (BnShape sh : {BnShape{4, 3, 10}, BnShape{2, 5, 1}, BnShape{32, 16, 256}}) {
    SCOPED_TRACE("N=" + std::to_string(sh.n) + " C=" + std::to_string(sh.c) +
                 " S=" + std::to_string(sh.s));
    const int64_t total = sh.n * sh.c * sh.s;
    std::vector<float> x = random_floats(total, 1, -2.f, 3.f), gamma = random_floats(sh.c, 2),
                       beta = random_floats(sh.c, 3), rm0 = random_floats(sh.c, 4),
                       rv0 = random_floats(sh.c, 5, 0.5f, 2.f);
    const double eps = 1e-5, momentum = 0.1;
    Tensor xt = to_gpu(x), g = to_gpu(gamma), b = to_gpu(beta), rm = to_gpu(rm0), rv = to_gpu(rv0),
           y = testing::gpu_nans(total), sm = testing::gpu_nans(sh.c), si = testing::gpu_nans(sh.c);
    kernels::gpu::batchnorm_forward_train(ex(), sh.n, sh.c, sh.s, f32(xt), f32(g), f32(b), momentum,
                                          eps, f32(rm), f32(rv), f32(sm), f32(si), f32(y));
    sync();
    ref::BnTrain want =
        ref::bn_train(to_double(x), sh.n, sh.c, sh.s, to_double(gamma), to_double(beta), eps);
    expect_close(to_host(y), want.y, 1e-5, 1e-4, "y");
    expect_close(to_host(sm), want.mean, 1e-6, 1e-5, "saved mean");
    ref::Vec invstd(sh.c), rm_want(sh.c), rv_want(sh.c);
    for (int64_t c = 0; c < sh.c; ++c) {
      invstd[c] = 1.0 / std::sqrt(want.var_biased[c] + eps);
      rm_want[c] = (1 - momentum) * rm0[c] + momentum * want.mean[c];
      rv_want[c] = (1 - momentum) * rv0[c] + momentum * want.var_unbiased[c];
    }
    expect_close(to_host(si), invstd, 1e-6, 1e-5, "saved 1/sqrt(var + eps)");
    expect_close(to_host(rm), rm_want, 1e-6, 1e-5, "running mean");
    expect_close(to_host(rv), rv_want, 1e-6, 1e-5, "running var (unbiased batch variance)");
  }
}

TEST_F(CudaNormPool, BatchNormWithoutRunningStatsAndEval) {
  const int64_t n = 3, c = 4, s = 7;
  std::vector<float> x = random_floats(n * c * s, 6), gamma = random_floats(c, 7),
                     beta = random_floats(c, 8), mean = random_floats(c, 9),
                     var = random_floats(c, 10, 0.1f, 2.f);
  Tensor xt = to_gpu(x), g = to_gpu(gamma), b = to_gpu(beta), m = to_gpu(mean), v = to_gpu(var),
         y = testing::gpu_nans(n * c * s), sm = testing::gpu_zeros(c), si = testing::gpu_zeros(c);
  kernels::gpu::batchnorm_forward_eval(ex(), n, c, s, f32(xt), f32(g), f32(b), f32(m), f32(v), 1e-3,
                                       f32(y));
  sync();
  expect_close(to_host(y),
               ref::bn_eval(to_double(x), n, c, s, to_double(gamma), to_double(beta),
                            to_double(mean), to_double(var), 1e-3),
               1e-6, 1e-5, "eval y");
  // No running statistics (track_running_stats=False).
  kernels::gpu::batchnorm_forward_train(ex(), n, c, s, f32(xt), f32(g), f32(b), 0.1, 1e-5, nullptr,
                                        nullptr, f32(sm), f32(si), f32(y));
  sync();
  expect_close(to_host(y),
               ref::bn_train(to_double(x), n, c, s, to_double(gamma), to_double(beta), 1e-5).y,
               1e-5, 1e-4, "train y without running stats");
  // One running pointer without the other, and a single value per channel, are errors.
  EXPECT_THROW(
      kernels::gpu::batchnorm_forward_train(ex(), n, c, s, f32(xt), f32(g), f32(b), 0.1, 1e-5,
                                            f32(m), nullptr, f32(sm), f32(si), f32(y)),
      Error);
  EXPECT_THROW(
      kernels::gpu::batchnorm_forward_train(ex(), 1, c, 1, f32(xt), f32(g), f32(b), 0.1, 1e-5,
                                            nullptr, nullptr, f32(sm), f32(si), f32(y)),
      ShapeError);
}

// Backward: dx overwritten, dgamma/dbeta accumulated onto prior values. dx subtracts two means
// (cancellation), hence a relative-L2 bound of 1e-4 rather than an elementwise one.
TEST_F(CudaNormPool, BatchNormBackwardMatchesReference) {
  for (BnShape sh : {BnShape{4, 3, 10}, BnShape{16, 8, 64}}) {
    const int64_t total = sh.n * sh.c * sh.s;
    std::vector<float> x = random_floats(total, 11), dy = random_floats(total, 12),
                       gamma = random_floats(sh.c, 13), beta = random_floats(sh.c, 14),
                       dg0 = random_floats(sh.c, 15), db0 = random_floats(sh.c, 16);
    const double eps = 1e-5;
    Tensor xt = to_gpu(x), dyt = to_gpu(dy), g = to_gpu(gamma), b = to_gpu(beta),
           y = testing::gpu_zeros(total), sm = testing::gpu_zeros(sh.c),
           si = testing::gpu_zeros(sh.c), dx = testing::gpu_nans(total), dg = to_gpu(dg0),
           db = to_gpu(db0);
    kernels::gpu::batchnorm_forward_train(ex(), sh.n, sh.c, sh.s, f32(xt), f32(g), f32(b), 0.1, eps,
                                          nullptr, nullptr, f32(sm), f32(si), f32(y));
    kernels::gpu::batchnorm_backward(ex(), sh.n, sh.c, sh.s, f32(xt), f32(dyt), f32(g), f32(sm),
                                     f32(si), eps, f32(dx), f32(dg), f32(db));
    sync();
    ref::BnGrads want =
        ref::bn_backward(to_double(x), to_double(dy), sh.n, sh.c, sh.s, to_double(gamma), eps);
    for (int64_t c = 0; c < sh.c; ++c) {
      want.dgamma[c] += dg0[c];
      want.dbeta[c] += db0[c];
    }
    expect_rel_l2(to_host(dx), want.dx, 1e-4, "dx");
    expect_close(to_host(dg), want.dgamma, 1e-4, 1e-4, "dgamma (accumulated)");
    expect_close(to_host(db), want.dbeta, 1e-4, 1e-4, "dbeta (accumulated)");
  }
}

kernels::PoolParams pool(int spatial, kernels::PoolMode mode, int in, int k, int s, int p) {
  kernels::PoolParams q;
  q.spatial = spatial;
  q.n = 2;
  q.c = 3;
  q.mode = mode;
  for (int i = 0; i < spatial; ++i) {
    q.in[i] = in + i;
    q.kernel[i] = k;
    q.stride[i] = s;
    q.pad[i] = p;
  }
  return q;
}

// Max pooling is a selection: exact. Average pooling divides sums of at most 27 values: 1e-6.
TEST_F(CudaNormPool, PoolingForwardBackwardMatchReference) {
  using kernels::PoolMode;
  std::vector<kernels::PoolParams> cases;
  for (PoolMode m : {PoolMode::max, PoolMode::avg_include_pad, PoolMode::avg_exclude_pad}) {
    cases.push_back(pool(2, m, 8, 2, 2, 0));
    cases.push_back(pool(2, m, 9, 3, 2, 1));
    cases.push_back(pool(3, m, 6, 3, 2, 1));
  }
  uint64_t seed = 50;
  for (const kernels::PoolParams& p : cases) {
    SCOPED_TRACE(p.str());
    for (bool ties : {false, true}) {
      // Ties: integer values in [0, 3], so many windows hold several maxima.
      std::vector<float> x = random_floats(p.x_numel(), ++seed, 0.f, 4.f);
      if (ties)
        for (auto& e : x)
          e = std::floor(e);
      std::vector<float> dy = random_floats(p.y_numel(), ++seed);
      Tensor xt = to_gpu(x), dyt = to_gpu(dy), y = testing::gpu_nans(p.y_numel()),
             dx = testing::gpu_nans(p.x_numel());
      kernels::gpu::pool_forward(ex(), p, f32(xt), f32(y));
      kernels::gpu::pool_backward(ex(), p, f32(xt), f32(y), f32(dyt), f32(dx));
      sync();
      const bool is_max = p.mode == PoolMode::max;
      expect_close(to_host(y), ref::pool_forward(p, to_double(x)), is_max ? 0 : 1e-6,
                   is_max ? 0 : 1e-6, ties ? "y (ties)" : "y");
      // Max backward sums at most (k/s)^d dy values per cell in a fixed order: float rounding.
      expect_close(to_host(dx), ref::pool_backward(p, to_double(x), to_double(dy)), 1e-6, 1e-6,
                   ties ? "dx (ties: one element per window)" : "dx");
    }
  }
}

TEST_F(CudaNormPool, MaxPoolPropagatesNaN) {
  kernels::PoolParams p = pool(2, kernels::PoolMode::max, 4, 2, 2, 0);
  std::vector<float> x = random_floats(p.x_numel(), 77);
  x[5] = std::nanf("");
  Tensor xt = to_gpu(x), y = testing::gpu_zeros(p.y_numel());
  kernels::gpu::pool_forward(ex(), p, f32(xt), f32(y));
  sync();
  ref::Vec want = ref::pool_forward(p, to_double(x));
  expect_close(to_host(y), want, 0, 0, "y with a NaN input");
}

TEST_F(CudaNormPool, GlobalAvgPoolMatchesReference) {
  const int64_t n = 4, c = 5, s = 49;
  std::vector<float> x = random_floats(n * c * s, 81), dy = random_floats(n * c, 82);
  Tensor xt = to_gpu(x), dyt = to_gpu(dy), y = testing::gpu_nans(n * c),
         dx = testing::gpu_nans(n * c * s);
  kernels::gpu::global_avg_pool_forward(ex(), n, c, s, f32(xt), f32(y));
  kernels::gpu::global_avg_pool_backward(ex(), n, c, s, f32(dyt), f32(dx));
  sync();
  ref::Vec y_want(n * c), dx_want(n * c * s);
  for (int64_t r = 0; r < n * c; ++r) {
    for (int64_t j = 0; j < s; ++j) {
      y_want[r] += x[r * s + j] / static_cast<double>(s);
      dx_want[r * s + j] = dy[r] / static_cast<double>(s);
    }
  }
  expect_close(to_host(y), y_want, 1e-6, 1e-5, "y");
  expect_close(to_host(dx), dx_want, 0, 1e-6, "dx");
}

}  // namespace
}  // namespace nsal
