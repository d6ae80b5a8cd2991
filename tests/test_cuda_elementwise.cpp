// Elementwise ops, bias add/grad, deterministic reductions, dropout and channel concat on the
// GPU. Elementwise results are exact, or within one rounding where nvcc may fuse a
// multiply-add (axpy); sums are compared with a float64 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/dropout_cpu.h"
#include "kernels/dropout.h"
#include "kernels/memory.h"
#include "tests/cuda_test_util.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

// A GPU test of this file: skips with the reason when no device answers.
class CudaElementwise : public testing::CudaTest {};

using testing::expect_close;
using testing::expect_error_mentions;
using testing::f32;
using testing::random_floats;
using testing::to_gpu;
using testing::to_host;
namespace gpu = kernels::gpu;

TEST_F(CudaElementwise, FillScaleAxpyAdd) {
  const int64_t n = 1000;
  std::vector<float> a = random_floats(n, 1), b = random_floats(n, 2);
  Tensor at = to_gpu(a), bt = to_gpu(b), y = testing::gpu_nans(n);
  gpu::fill(ex(), f32(y), n, 3.5f);
  sync();
  EXPECT_EQ(to_host(y), std::vector<float>(n, 3.5f));
  gpu::add(ex(), n, f32(at), f32(bt), f32(y));
  sync();
  std::vector<double> want(n);
  for (int64_t i = 0; i < n; ++i)
    want[i] = a[i] + b[i];
  expect_close(to_host(y), want, 0, 1e-7, "add");  // one float rounding
  gpu::add(ex(), n, f32(y), f32(at), f32(y));      // in place (y aliases a)
  gpu::scale(ex(), f32(y), n, -2.f);
  gpu::axpy(ex(), n, 0.25f, f32(bt), f32(y));
  sync();
  // The float steps as the GPU takes them; only the last (axpy, maybe fused) is left to the
  // tolerance.
  for (int64_t i = 0; i < n; ++i)
    want[i] = static_cast<double>(-2.f * ((a[i] + b[i]) + a[i])) + 0.25 * b[i];
  expect_close(to_host(y), want, 1e-7, 1e-6, "add/scale/axpy");
  EXPECT_NO_THROW(gpu::fill(ex(), nullptr, 0, 1.f));  // empty is fine
}

TEST_F(CudaElementwise, ReluAndRelu6FollowPyTorch) {
  std::vector<float> x = random_floats(512, 3, -8.f, 8.f);
  x[0] = 0.f;
  x[1] = 6.f;
  x[2] = std::nanf("");
  x[3] = -0.f;
  std::vector<float> dy = random_floats(512, 4);
  Tensor xt = to_gpu(x), dyt = to_gpu(dy), y = testing::gpu_nans(512), dx = testing::gpu_nans(512);
  const int64_t n = 512;
  for (bool six : {false, true}) {
    SCOPED_TRACE(six ? "relu6" : "relu");
    if (six)
      gpu::relu6_forward(ex(), n, f32(xt), f32(y));
    else
      gpu::relu_forward(ex(), n, f32(xt), f32(y));
    if (six)
      gpu::relu6_backward(ex(), n, f32(y), f32(dyt), f32(dx));
    else
      gpu::relu_backward(ex(), n, f32(y), f32(dyt), f32(dx));
    sync();
    std::vector<double> y_want(n), dx_want(n);
    for (int64_t i = 0; i < n; ++i) {
      double v = x[i];
      double yv = std::isnan(v) ? v : std::max(v, 0.0);
      if (six && !std::isnan(v)) yv = std::min(yv, 6.0);
      y_want[i] = yv;
      // threshold_backward / hardtanh_backward: the gradient passes unless y is at or beyond a
      // bound (a NaN output passes it).
      bool blocked = yv <= 0.0 || (six && yv >= 6.0);
      dx_want[i] = blocked ? 0.0 : dy[i];
    }
    expect_close(to_host(y), y_want, 0, 0, "y");
    expect_close(to_host(dx), dx_want, 0, 0, "dx");
  }
  // In place: dx aliases dy.
  gpu::relu_backward(ex(), n, f32(y), f32(dyt), f32(dyt));
  sync();
  std::vector<float> in_place = to_host(dyt);
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(in_place[i], to_host(y)[i] <= 0.f ? 0.f : dy[i]);
}

TEST_F(CudaElementwise, BiasAddAndBiasGrad) {
  for (int64_t s : {int64_t{1}, int64_t{49}}) {
    const int64_t n = 7, c = 5;
    std::vector<float> y0 = random_floats(n * c * s, 5), b = random_floats(c, 6),
                       dy = random_floats(n * c * s, 7), db0 = random_floats(c, 8);
    Tensor y = to_gpu(y0), bt = to_gpu(b), dyt = to_gpu(dy), db = to_gpu(db0);
    gpu::bias_add(ex(), n, c, s, f32(bt), f32(y));
    gpu::bias_grad(ex(), n, c, s, f32(dyt), f32(db));
    sync();
    std::vector<double> y_want(y0.size()), db_want(db0.begin(), db0.end());
    for (int64_t i = 0; i < n * c * s; ++i) {
      y_want[i] = y0[i] + b[(i / s) % c];
      db_want[(i / s) % c] += dy[i];
    }
    expect_close(to_host(y), y_want, 0, 1e-7, "bias_add");
    expect_close(to_host(db), db_want, 1e-6, 1e-6, "bias_grad (accumulated)");
  }
}

// Sums in double with a fixed order: equal to the float64 sum up to double rounding, and the
// same bits on every run.
TEST_F(CudaElementwise, ReductionsAreAccurateAndDeterministic) {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{1 << 20} + 3}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    std::vector<float> x = random_floats(static_cast<size_t>(n), 9);
    Tensor xt = n ? to_gpu(x) : testing::gpu_zeros(1);
    Tensor out = testing::gpu_zeros(4, DType::f64);
    double* o = out.data<double>();
    gpu::sum(ex(), f32(xt), n, o);
    gpu::sum_squares(ex(), f32(xt), n, o + 1);
    gpu::sum(ex(), f32(xt), n, o + 2);
    gpu::sum_squares(ex(), f32(xt), n, o + 3);
    sync();
    std::vector<double> got = to_host<double>(out);
    double s = 0, sq = 0, abs_sum = 0;
    for (float v : x) {
      s += v;
      abs_sum += std::abs(v);
      sq += static_cast<double>(v) * v;
    }
    // Double sums in another order differ by rounding of typically sqrt(n) eps ~ 1e-13 of
    // sum |x|.
    EXPECT_NEAR(got[0], s, 1e-11 * (1 + abs_sum));
    EXPECT_NEAR(got[1], sq, 1e-12 * (1 + sq));
    EXPECT_EQ(0, std::memcmp(&got[0], &got[2], 8)) << "sum not reproducible";
    EXPECT_EQ(0, std::memcmp(&got[1], &got[3], 8)) << "sum_squares not reproducible";
  }
}

// The GPU drops exactly the elements kernels/dropout.h drops on the CPU, and backward
// regenerates the same mask.
TEST_F(CudaElementwise, DropoutMatchesTheCpuMask) {
  const int64_t n = 100003;
  const double p = 0.3;
  const uint64_t seed = 1234, step = 17;
  std::vector<float> x = random_floats(n, 10), dy = random_floats(n, 11);
  Tensor xt = to_gpu(x), dyt = to_gpu(dy), y = testing::gpu_nans(n), dx = testing::gpu_nans(n);
  gpu::dropout_forward(ex(), n, p, seed, step, f32(xt), f32(y));
  gpu::dropout_backward(ex(), n, p, seed, step, f32(dyt), f32(dx));
  sync();
  std::vector<float> yh = to_host(y), dxh = to_host(dx);
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  const uint64_t threshold = kernels::dropout_threshold(p);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool keep =
        kernels::dropout_keep_element(seed, step, static_cast<uint64_t>(i), threshold);
    if ((yh[i] != (keep ? x[i] * scale : 0.f) || dxh[i] != (keep ? dy[i] * scale : 0.f)) &&
        bad++ < 5)
      ADD_FAILURE() << "element " << i << ": keep " << keep << " y " << yh[i] << " x " << x[i];
  }
  EXPECT_EQ(bad, 0);
  expect_error_mentions([&] { gpu::dropout_forward(ex(), n, 1.5, seed, step, f32(xt), f32(y)); },
                        {"p must be in [0, 1]", "got 1.5"});

  // The counted variant (training steps in device memory): the same mask at the device's step,
  // which then becomes the backward's while the next one advances.
  const std::vector<uint64_t> counters = {step, 0};
  Tensor steps = Tensor({16}, DType::u8, Device::cuda(0));
  kernels::copy_bytes(steps.raw(), true, counters.data(), false, 16);
  auto* sp = static_cast<uint64_t*>(steps.raw());
  Tensor y2 = testing::gpu_nans(n), dx2 = testing::gpu_nans(n);
  gpu::dropout_forward_counted(ex(), n, p, seed, sp, f32(xt), f32(y2));
  gpu::dropout_backward_counted(ex(), n, p, seed, sp, f32(dyt), f32(dx2));
  sync();
  EXPECT_EQ(to_host(y2), yh);
  EXPECT_EQ(to_host(dx2), dxh);
  std::vector<uint64_t> after(2);
  kernels::copy_bytes(after.data(), false, steps.raw(), true, 16);
  EXPECT_EQ(after, (std::vector<uint64_t>{step + 1, step}));
}

// Masked as rows (MC dropout at inference: a row per sample, row r at step + r, elements counted
// from 0 in each row): the same elements as the CPU loop.
TEST_F(CudaElementwise, DropoutByRowsMatchesTheCpuMask) {
  const int64_t rows = 37, per_row = 1001;  // not a multiple of four: short groups at row ends
  const int64_t n = rows * per_row;
  const double p = 0.5;
  const uint64_t seed = 99, step = (uint64_t{1} << 63) | (uint64_t{4} << 40) | 250;
  std::vector<float> x = random_floats(n, 14), want(n);
  Tensor xt = to_gpu(x), y = testing::gpu_nans(n);
  gpu::dropout_forward(ex(), n, p, seed, step, f32(xt), f32(y), rows);
  sync();
  kernels::cpu::dropout_apply(x.data(), want.data(), n, seed, step, kernels::dropout_threshold(p),
                              2.0f, rows);
  EXPECT_EQ(to_host(y), want);
  expect_error_mentions([&] { gpu::dropout_forward(ex(), n, p, seed, step, f32(xt), f32(y), 36); },
                        {"36 rows do not divide"});
  // Keyed rows (the samples' dataset indices), backward included: the CPU loop's mask again.
  std::vector<int32_t> keys(rows);
  for (int64_t r = 0; r < rows; ++r)
    keys[static_cast<size_t>(r)] = static_cast<int32_t>((r * 7919) % 60000);
  Tensor kt = to_gpu(keys), dx = testing::gpu_nans(n);
  const uint64_t base = (uint64_t{1} << 63) | (uint64_t{4} << 40);
  gpu::dropout_forward(ex(), n, p, seed, base, f32(xt), f32(y), rows, kt.data<int32_t>());
  gpu::dropout_backward(ex(), n, p, seed, base, f32(xt), f32(dx), rows, kt.data<int32_t>());
  sync();
  kernels::cpu::dropout_apply(x.data(), want.data(), n, seed, base, kernels::dropout_threshold(p),
                              2.0f, rows, keys.data());
  EXPECT_EQ(to_host(y), want);
  EXPECT_EQ(to_host(dx), want);
}

TEST_F(CudaElementwise, ConcatAndSplitChannels) {
  const int64_t n = 3, s = 10;
  const int64_t ch[3] = {2, 0, 5};
  std::vector<float> a = random_floats(n * 2 * s, 12), c = random_floats(n * 5 * s, 13);
  Tensor at = to_gpu(a), ct = to_gpu(c), dst = testing::gpu_nans(n * 7 * s),
         empty = testing::gpu_zeros(1);
  const float* srcs[3] = {f32(at), f32(empty), f32(ct)};
  gpu::concat_channels(ex(), n, s, 3, srcs, ch, f32(dst));
  sync();
  std::vector<float> d = to_host(dst);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t j = 0; j < 7 * s; ++j) {
      float want = j < 2 * s ? a[b * 2 * s + j] : c[b * 5 * s + (j - 2 * s)];
      ASSERT_EQ(d[b * 7 * s + j], want) << "n " << b << " j " << j;
    }
  Tensor a2 = testing::gpu_nans(n * 2 * s), c2 = testing::gpu_nans(n * 5 * s);
  float* dsts[3] = {f32(a2), f32(empty), f32(c2)};
  gpu::split_channels(ex(), n, s, 3, f32(dst), dsts, ch);
  sync();
  EXPECT_EQ(to_host(a2), a);
  EXPECT_EQ(to_host(c2), c);
}

}  // namespace
}  // namespace nsal
