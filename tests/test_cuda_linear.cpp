// Linear layers and GEMM on cuBLAS against the float64 reference.
//
// Tolerance, strict fp32: relative L2 <= 5e-5 (an fp32 dot product of <= 256 terms: ~1e-6;
// TF32 would give ~4e-4). TF32 / bf16 modes: 5e-3 / 2e-2 (10-bit / 7-bit mantissa inputs).
#include <gtest/gtest.h>

#include "tests/cuda_test_util.h"
#include "tests/gpu_reference.h"

namespace nsal {
namespace {

// A GPU test of this file: skips with the reason when no device answers.
class CudaLinear : public testing::CudaTest {};

using testing::expect_close;
using testing::expect_rel_l2;
using testing::f32;
using testing::random_floats;
using testing::to_double;
using testing::to_gpu;
using testing::to_host;

struct LinearShape {
  int64_t n, in, out;
};

TEST_F(CudaLinear, LinearForwardBackwardMatchReference) {
  for (LinearShape sh :
       {LinearShape{5, 7, 3}, LinearShape{64, 96, 40}, LinearShape{256, 512, 10}}) {
    SCOPED_TRACE("N=" + std::to_string(sh.n) + " in=" + std::to_string(sh.in) +
                 " out=" + std::to_string(sh.out));
    std::vector<float> x = random_floats(sh.n * sh.in, 1), w = random_floats(sh.out * sh.in, 2),
                       b = random_floats(sh.out, 3), dy = random_floats(sh.n * sh.out, 4),
                       dw0 = random_floats(sh.out * sh.in, 5), db0 = random_floats(sh.out, 6);
    Tensor xt = to_gpu(x), wt = to_gpu(w), bt = to_gpu(b), dyt = to_gpu(dy),
           y = testing::gpu_nans(sh.n * sh.out), dx = testing::gpu_nans(sh.n * sh.in),
           dw = to_gpu(dw0), db = to_gpu(db0);
    kernels::gpu::linear_forward(ex(), sh.n, sh.in, sh.out, f32(xt), f32(wt), f32(bt), f32(y));
    kernels::gpu::linear_backward_data(ex(), sh.n, sh.in, sh.out, f32(dyt), f32(wt), f32(dx));
    kernels::gpu::linear_backward_weight(ex(), sh.n, sh.in, sh.out, f32(xt), f32(dyt), f32(dw));
    kernels::gpu::linear_backward_bias(ex(), sh.n, sh.out, f32(dyt), f32(db));
    sync();
    ref::Vec bd = to_double(b);
    expect_rel_l2(to_host(y),
                  ref::linear_forward(to_double(x), to_double(w), &bd, sh.n, sh.in, sh.out), 5e-5,
                  "y");
    // dx = dy w is linear_forward of dy with w^T.
    ref::Vec wt_d(sh.in * sh.out);
    for (int64_t o = 0; o < sh.out; ++o)
      for (int64_t k = 0; k < sh.in; ++k)
        wt_d[k * sh.out + o] = w[o * sh.in + k];
    expect_rel_l2(to_host(dx),
                  ref::linear_forward(to_double(dy), wt_d, nullptr, sh.n, sh.out, sh.in), 5e-5,
                  "dx");
    ref::Vec dw_want(sh.out * sh.in), db_want(sh.out);
    for (int64_t o = 0; o < sh.out; ++o) {
      db_want[o] = db0[o];
      for (int64_t r = 0; r < sh.n; ++r)
        db_want[o] += dy[r * sh.out + o];
      for (int64_t k = 0; k < sh.in; ++k) {
        double s = dw0[o * sh.in + k];
        for (int64_t r = 0; r < sh.n; ++r)
          s += static_cast<double>(dy[r * sh.out + o]) * x[r * sh.in + k];
        dw_want[o * sh.in + k] = s;
      }
    }
    expect_rel_l2(to_host(dw), dw_want, 5e-5, "dw (accumulated)");
    expect_close(to_host(db), db_want, 1e-5, 1e-5, "db (accumulated)");
  }
}

// Row-major GEMM in all four transpose combinations, with padded leading dimensions, alpha and
// beta.
TEST_F(CudaLinear, GemmTransposesAndLeadingDimensions) {
  const int64_t m = 13, n = 9, k = 21, pad = 3;
  const float alpha = 0.5f, beta = -1.5f;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(std::string("trans_a=") + (ta ? "1" : "0") + " trans_b=" + (tb ? "1" : "0"));
      const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k,
                    b_cols = tb ? k : n;
      const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
      std::vector<float> a = random_floats(a_rows * lda, 7), b = random_floats(b_rows * ldb, 8),
                         c0 = random_floats(m * ldc, 9);
      Tensor at = to_gpu(a), bt = to_gpu(b), ct = to_gpu(c0);
      kernels::gpu::gemm(ex(), ta, tb, m, n, k, alpha, f32(at), lda, f32(bt), ldb, beta, f32(ct),
                         ldc);
      sync();
      ref::Vec want(c0.begin(), c0.end());
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t q = 0; q < k; ++q)
            s += static_cast<double>(ta ? a[q * lda + i] : a[i * lda + q]) *
                 (tb ? b[j * ldb + q] : b[q * ldb + j]);
          want[i * ldc + j] = alpha * s + beta * c0[i * ldc + j];
        }
      // The padding columns of C are left alone: the comparison covers them too.
      expect_rel_l2(to_host(ct), want, 5e-5, "C");
    }
}

TEST_F(CudaLinear, LinearReducedPrecisionModes) {
  const int64_t n = 64, in = 256, out = 64;
  std::vector<float> x = random_floats(n * in, 11), w = random_floats(out * in, 12);
  Tensor xt = to_gpu(x), wt = to_gpu(w), y = testing::gpu_zeros(n * out);
  ref::Vec want = ref::linear_forward(to_double(x), to_double(w), nullptr, n, in, out);
  for (auto [mode, tol] : {std::pair{MathMode::tf32, 5e-3}, std::pair{MathMode::bf16, 2e-2}}) {
    ctx().set_math_mode(mode);
    kernels::gpu::linear_forward(ex(), n, in, out, f32(xt), f32(wt), nullptr, f32(y));
    sync();
    testing::ErrorStats s = testing::compare(to_host(y), want);
    EXPECT_LE(s.rel_l2, tol) << math_mode_name(mode);
    RecordProperty(std::string(math_mode_name(mode)) + "_rel_l2", std::to_string(s.rel_l2));
  }
}

TEST_F(CudaLinear, GemmRejectsShortLeadingDimension) {
  Tensor t = testing::gpu_zeros(256);
  EXPECT_THROW(
      kernels::gpu::gemm(ex(), false, false, 4, 4, 4, 1.f, f32(t), 3, f32(t), 4, 0.f, f32(t), 4),
      ShapeError);
}

}  // namespace
}  // namespace nsal
