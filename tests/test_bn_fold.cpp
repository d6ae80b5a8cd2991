// BatchNorm folding (kernels/bn_fold.h) on the CPU: the per-channel math the GPU kernel shares.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/bn_fold.h"
#include "tests/gpu_reference.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

TEST(BnFold, ChannelCoefficientsFollowTheDefinition) {
  // s = gamma / sqrt(var + eps) = 2 / sqrt(3 + 1) = 1; bias = (b - mean) s + beta.
  kernels::BnFold f = kernels::bn_fold_channel(2.0, 1.0, 0.5, 3.0, 1.0, 0.25);
  EXPECT_DOUBLE_EQ(f.scale, 1.0);
  EXPECT_DOUBLE_EQ(f.bias, (0.25 - 0.5) * 1.0 + 1.0);
}

// conv(x, w_folded) + b_folded must equal BN_eval(conv(x, w) + b) (float64 reference convs; the
// folded weights are rounded to float, hence the 1e-6 relative tolerance).
TEST(BnFold, FoldedConvEqualsConvThenBatchNorm) {
  kernels::ConvParams p;
  p.n = 2;
  p.c_in = 4;
  p.c_out = 6;
  p.groups = 2;
  p.in[0] = p.in[1] = 5;
  p.kernel[0] = p.kernel[1] = 3;
  p.pad[0] = p.pad[1] = 1;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> u(-1, 1), pos(0.2f, 2.f);
  std::vector<float> w(static_cast<size_t>(p.w_numel())), b(6), gamma(6), beta(6), mean(6), var(6),
      x(static_cast<size_t>(p.x_numel()));
  for (auto* v : {&w, &b, &gamma, &beta, &mean, &x})
    for (auto& e : *v)
      e = u(rng);
  for (auto& e : var)
    e = pos(rng);
  const double eps = 1e-5;
  const int64_t per = p.w_numel() / p.c_out;
  std::vector<float> wf(w.size()), bf(6);
  kernels::cpu::bn_fold(6, per, w.data(), b.data(), gamma.data(), beta.data(), mean.data(),
                        var.data(), eps, wf.data(), bf.data());

  auto d = [](const std::vector<float>& v) { return ref::Vec(v.begin(), v.end()); };
  ref::Vec bd = d(b), bfd = d(bf);
  ref::Vec want = ref::bn_eval(ref::conv_forward(p, d(x), d(w), &bd), p.n, p.c_out, p.out_spatial(),
                               d(gamma), d(beta), d(mean), d(var), eps);
  ref::Vec got = ref::conv_forward(p, d(x), d(wf), &bfd);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-6 * (1 + std::abs(want[i]))) << "at " << i;

  // In place (w_out == w), and without a conv bias (b = 0).
  std::vector<float> w2 = w, b2(6);
  kernels::cpu::bn_fold(6, per, w2.data(), nullptr, gamma.data(), beta.data(), mean.data(),
                        var.data(), eps, w2.data(), b2.data());
  // The weights do not depend on the conv bias: every one as folded out of place.
  EXPECT_EQ(w2, wf);
  for (int64_t o = 0; o < 6; ++o) {  // beta - mean gamma / sqrt(var + eps), in double
    const double want_b = beta[o] - double{mean[o]} * gamma[o] / std::sqrt(double{var[o]} + eps);
    EXPECT_NEAR(b2[o], want_b, 1e-6 * (1 + std::abs(want_b))) << "channel " << o;
  }
}

TEST(BnFold, RejectsBadArguments) {
  float one = 1;
  EXPECT_THROW(kernels::cpu::bn_fold(0, 1, &one, nullptr, &one, &one, &one, &one, 1e-5, &one, &one),
               ShapeError);
  expect_error_mentions(
      [&] { kernels::cpu::bn_fold(1, 1, &one, nullptr, &one, &one, &one, &one, 0.0, &one, &one); },
      {"eps", "positive"});
}

}  // namespace
}  // namespace nsal
