// The float64 references of tests/gpu_reference.h are checked here, on the CPU: every forward
// against an independent definition and every backward against central finite differences of
// its forward (loss = sum(forward(x) * r)). The GPU tests compare the CUDA ops with these
// references, so this is what ties the GPU ops to the maths.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "tests/conv_reference.h"
#include "tests/gpu_reference.h"

namespace nsal {
namespace {

using ref::Vec;

Vec random_vec(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Vec v(n);
  for (auto& e : v)
    e = u(rng);
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    s += a[i] * b[i];
  return s;
}

// d/dv sum(f() * r) by central differences, compared with `analytic`, for every element of v.
void expect_fd(Vec& v, const Vec& analytic, const std::function<Vec()>& f, const Vec& r,
               const char* what, double tol = 1e-6) {
  ASSERT_EQ(v.size(), analytic.size()) << what;
  const double eps = 1e-6;
  int bad = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const double keep = v[i];
    v[i] = keep + eps;
    const double lp = dot(f(), r);
    v[i] = keep - eps;
    const double lm = dot(f(), r);
    v[i] = keep;
    const double num = (lp - lm) / (2 * eps);
    // Written so that a NaN on either side is a mismatch.
    if (!(std::isfinite(num) && std::abs(num - analytic[i]) <= tol * (1 + std::abs(num))) &&
        bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << " numeric " << num;
  }
  EXPECT_EQ(bad, 0) << what;
}

kernels::ConvParams conv_params(int spatial, int groups, int stride, int pad, int dil) {
  kernels::ConvParams p;
  p.spatial = spatial;
  p.n = 2;
  p.c_in = 4;
  p.c_out = 6;
  p.groups = groups;
  for (int i = 0; i < spatial; ++i) {
    p.in[i] = spatial == 3 ? 4 : 6;
    p.kernel[i] = 3;
    p.stride[i] = stride;
    p.pad[i] = pad;
    p.dilation[i] = dil;
  }
  return p;
}

TEST(GpuReference, ConvBackwardMatchesFiniteDifferences) {
  for (auto p : {conv_params(2, 1, 1, 1, 1), conv_params(2, 2, 2, 1, 1), conv_params(2, 1, 1, 2, 2),
                 conv_params(3, 2, 1, 1, 1)}) {
    kernels::check_conv_params(p, "test");
    Vec x = random_vec(p.x_numel(), 1), w = random_vec(p.w_numel(), 2);
    Vec b = random_vec(p.c_out, 3), r = random_vec(p.y_numel(), 4);
    auto f = [&] { return ref::conv_forward(p, x, w, &b); };
    expect_fd(x, ref::conv_backward_data(p, r, w), f, r, "conv dx");
    expect_fd(w, ref::conv_backward_filter(p, x, r), f, r, "conv dw");
    expect_fd(b, ref::channel_sums(r, p.n, p.c_out, p.out_spatial()), f, r, "conv db");
  }
}

// The forwards themselves, against definitions written independently of tests/gpu_reference.h:
// the CPU tests' enumeration of a convolution's multiply-adds (tests/conv_reference.h), and
// pooling and BatchNorm values worked out by hand.
TEST(GpuReference, ConvForwardMatchesTheCpuTestsReference) {
  for (auto p : {conv_params(2, 1, 1, 1, 1), conv_params(2, 2, 2, 1, 1), conv_params(2, 1, 1, 2, 2),
                 conv_params(3, 2, 1, 1, 1)}) {
    kernels::ConvShape s;
    s.spatial = p.spatial;
    s.n = p.n;
    s.c = p.c_in;
    s.k = p.c_out;
    s.groups = p.groups;
    for (int i = 0; i < p.spatial; ++i) {
      const int j = 3 - p.spatial + i;  // ConvShape counts (D, H, W); 2D leaves D = 1
      s.in[j] = p.in[i];
      s.kernel[j] = p.kernel[i];
      s.stride[j] = p.stride[i];
      s.pad[j] = p.pad[i];
      s.dilation[j] = p.dilation[i];
    }
    Vec x = random_vec(p.x_numel(), 21), w = random_vec(p.w_numel(), 22),
        b = random_vec(p.c_out, 23);
    const Vec got = ref::conv_forward(p, x, w, &b);
    const std::vector<double> want =
        testing::ConvReference{s}.forward(x.data(), w.data(), b.data());
    ASSERT_EQ(got.size(), want.size()) << p.str();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-12 * (1 + std::abs(want[i]))) << p.str() << " at " << i;
  }
}

TEST(GpuReference, PoolForwardMatchesHandValues) {
  kernels::PoolParams p;
  p.n = p.c = 1;
  p.in[0] = p.in[1] = 4;
  p.kernel[0] = p.kernel[1] = 2;
  p.stride[0] = p.stride[1] = 2;
  Vec x(16);
  for (int i = 0; i < 16; ++i)
    x[i] = i;  // rows 0-3, 4-7, 8-11, 12-15
  p.mode = kernels::PoolMode::max;
  EXPECT_EQ(ref::pool_forward(p, x), (Vec{5, 7, 13, 15}));
  p.mode = kernels::PoolMode::avg_include_pad;
  EXPECT_EQ(ref::pool_forward(p, x), (Vec{2.5, 4.5, 10.5, 12.5}));
  // 2x2 input [1 2; 3 4], 2x2 windows at stride 2 with padding 1: each window holds one value
  // and three zeros of padding.
  p.in[0] = p.in[1] = 2;
  p.pad[0] = p.pad[1] = 1;
  const Vec small = {1, 2, 3, 4};
  EXPECT_EQ(ref::pool_forward(p, small), (Vec{0.25, 0.5, 0.75, 1.0}));
  p.mode = kernels::PoolMode::avg_exclude_pad;
  EXPECT_EQ(ref::pool_forward(p, small), small);
  p.mode = kernels::PoolMode::max;
  EXPECT_EQ(ref::pool_forward(p, small), small);
}

TEST(GpuReference, BatchNormForwardMatchesHandValues) {
  // N = 2, C = 2, S = 1: channel 0 holds {1, 3} (mean 2, biased variance 1), channel 1 {5, 5}.
  const Vec x = {1, 5, 3, 5}, gamma = {2, 3}, beta = {0.5, -1};
  const double eps = 1e-5;
  ref::BnTrain t = ref::bn_train(x, 2, 2, 1, gamma, beta, eps);
  EXPECT_EQ(t.mean, (Vec{2, 5}));
  EXPECT_EQ(t.var_biased, (Vec{1, 0}));
  EXPECT_EQ(t.var_unbiased, (Vec{2, 0}));
  const double k = 2 / std::sqrt(1 + eps);
  const Vec want = {0.5 - k, -1, 0.5 + k, -1};
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(t.y[i], want[i], 1e-15) << i;
  // Eval with given statistics: gamma (x - mean) / sqrt(var + eps) + beta.
  const Vec e = ref::bn_eval(x, 2, 2, 1, gamma, beta, {0, 1}, {3, 15}, 0);
  EXPECT_NEAR(e[0], 2 * 1 / std::sqrt(3.0) + 0.5, 1e-15);
  EXPECT_NEAR(e[1], 3 * 4 / std::sqrt(15.0) - 1, 1e-15);
}

TEST(GpuReference, BatchNormBackwardMatchesFiniteDifferences) {
  const int64_t n = 3, c = 2, s = 5;
  Vec x = random_vec(n * c * s, 5), gamma = random_vec(c, 6), beta = random_vec(c, 7);
  Vec r = random_vec(n * c * s, 8);
  auto f = [&] { return ref::bn_train(x, n, c, s, gamma, beta, 1e-5).y; };
  ref::BnGrads g = ref::bn_backward(x, r, n, c, s, gamma, 1e-5);
  expect_fd(x, g.dx, f, r, "bn dx", 1e-5);
  expect_fd(gamma, g.dgamma, f, r, "bn dgamma");
  expect_fd(beta, g.dbeta, f, r, "bn dbeta");
}

TEST(GpuReference, PoolBackwardMatchesFiniteDifferences) {
  for (auto mode : {kernels::PoolMode::max, kernels::PoolMode::avg_include_pad,
                    kernels::PoolMode::avg_exclude_pad}) {
    kernels::PoolParams p;
    p.n = 2;
    p.c = 3;
    p.in[0] = p.in[1] = 5;
    p.kernel[0] = p.kernel[1] = 3;
    p.stride[0] = p.stride[1] = 2;
    p.pad[0] = p.pad[1] = 1;
    p.mode = mode;
    Vec x = random_vec(p.x_numel(), 9), r = random_vec(p.y_numel(), 10);
    auto f = [&] { return ref::pool_forward(p, x); };
    expect_fd(x, ref::pool_backward(p, x, r), f, r, "pool dx");
  }
}

TEST(GpuReference, CrossEntropyGradientMatchesFiniteDifferences) {
  const int64_t n = 3, c = 4, p = 2;
  Vec x = random_vec(n * c * p, 11), w = {0.5, 1.0, 2.0, 1.5};
  std::vector<int32_t> labels = {0, 3, -100, 1, 2, 2};
  for (bool mean : {true, false}) {
    ref::CrossEntropy ce = ref::cross_entropy(x, labels, &w, n, c, p, -100, mean);
    Vec one = {1.0};
    auto f = [&] { return Vec{ref::cross_entropy(x, labels, &w, n, c, p, -100, mean).loss}; };
    expect_fd(x, ce.dlogits, f, one, "cross-entropy dlogits");
  }
}

TEST(GpuReference, BilinearBackwardIsTheTransposeOfForward) {
  const int h = 3, w = 5, oh = 7, ow = 4;
  Vec x = random_vec(2 * h * w, 12), r = random_vec(2 * oh * ow, 13);
  auto f = [&] { return ref::bilinear_forward(x, 2, h, w, oh, ow); };
  expect_fd(x, ref::bilinear_backward(r, 2, h, w, oh, ow), f, r, "bilinear dx");
}

TEST(GpuReference, LinearMatchesItsDefinition) {
  Vec x = {1, 2, 3, 4, 5, 6};   // (2, 3)
  Vec w = {1, 0, -1, 2, 1, 0};  // (2, 3)
  Vec b = {0.5, -0.5};
  Vec y = ref::linear_forward(x, w, &b, 2, 3, 2);
  EXPECT_EQ(y, (Vec{1 - 3 + 0.5, 2 + 2 - 0.5, 4 - 6 + 0.5, 8 + 5 - 0.5}));
}

}  // namespace
}  // namespace nsal
