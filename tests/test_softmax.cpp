#include <gtest/gtest.h>

#include <cmath>

#include "nn/layers/softmax.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

// Naive (log-)softmax over dimension 1 of (N, C, S), in long double.
std::vector<double> naive_softmax(const std::vector<double>& x, int64_t N, int64_t C, int64_t S,
                                  bool log) {
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) {
      long double mx = -INFINITY, sum = 0;
      for (int64_t c = 0; c < C; ++c)
        mx = std::max<long double>(mx, x[(n * C + c) * S + s]);
      for (int64_t c = 0; c < C; ++c)
        sum += std::exp(static_cast<long double>(x[(n * C + c) * S + s]) - mx);
      for (int64_t c = 0; c < C; ++c) {
        const long double z = x[(n * C + c) * S + s] - mx - std::log(sum);
        y[(n * C + c) * S + s] = static_cast<double>(log ? z : std::exp(z));
      }
    }
  return y;
}

// Non-finite logits give PyTorch's results (torch.softmax([inf, 1]) is [nan, nan]; a row of
// -inf is NaN; a finite row next to them is untouched), the same as the GPU kernels.
TEST(Softmax, NonFiniteLogitsFollowPyTorch) {
  Context ctx;
  const double inf = INFINITY;
  for (bool log : {false, true}) {
    std::unique_ptr<Layer> layer =
        log ? std::unique_ptr<Layer>(new LogSoftmax("sm")) : std::make_unique<Softmax>("sm");
    layer->set_training(false);
    Tensor x = Tensor::from_vector({inf, 1, -inf, -inf, 0, -inf}, {3, 2}, DType::f32);
    const std::vector<double> y = layer->forward(ctx, x).to_vector();
    EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1])) << "a +inf logit";
    EXPECT_TRUE(std::isnan(y[2]) && std::isnan(y[3])) << "all -inf";
    EXPECT_EQ(y[4], log ? 0.0 : 1.0);
    EXPECT_EQ(y[5], log ? -inf : 0.0);
  }
}

TEST(Softmax, MatchesNaiveReferenceForClassesAndPixels) {
  std::mt19937_64 rng(1);
  Context ctx;
  for (bool log : {false, true})
    for (Shape s : {Shape{5, 10}, Shape{2, 4, 9, 11}, Shape{3, 3, 70}}) {
      std::unique_ptr<Layer> layer =
          log ? std::unique_ptr<Layer>(new LogSoftmax("sm")) : std::make_unique<Softmax>("sm");
      Tensor x = testing::random_tensor(s, rng, DType::f64, -5, 5);
      const int64_t S = x.numel() / (s[0] * s[1]);
      testing::expect_tensor_near(layer->forward(ctx, x),
                                  naive_softmax(x.to_vector(), s[0], s[1], S, log), 1e-14,
                                  log ? "log_softmax" : "softmax");
    }
}

TEST(Softmax, StableForLargeLogits) {
  Context ctx;
  Tensor x = Tensor::from_vector({1000, 1001, 999, -1000, -1001, -999}, {2, 3}, DType::f32);
  Softmax sm("sm");
  LogSoftmax lsm("lsm");
  const std::vector<double> p = sm.forward(ctx, x).to_vector();
  const std::vector<double> lp = lsm.forward(ctx, x).to_vector();
  const std::vector<double> want = naive_softmax(x.to_vector(), 2, 3, 1, false);
  testing::expect_values_near(p, want, 1e-6, "softmax of large logits");
  for (size_t i = 0; i < lp.size(); ++i)
    EXPECT_NEAR(lp[i], std::log(want[i]), 1e-5);
}

TEST(Softmax, GradientsMatchFiniteDifferences) {
  Softmax sm("sm");
  testing::expect_gradients_match(sm, {3, 6});
  testing::expect_gradients_match(sm, {2, 4, 3, 5});
  LogSoftmax lsm("lsm");
  testing::expect_gradients_match(lsm, {3, 6});
  testing::expect_gradients_match(lsm, {2, 4, 3, 5});
}

TEST(Softmax, Float32MatchesFloat64) {
  testing::expect_f32_matches_f64([] { return std::make_unique<Softmax>("sm"); }, {8, 19, 16, 16},
                                  1e-6);
  testing::expect_f32_matches_f64([] { return std::make_unique<LogSoftmax>("sm"); }, {64, 10},
                                  1e-6);
}

TEST(Softmax, RejectsBadInputsNamingTheLayer) {
  Context ctx;
  Softmax sm("head.softmax");
  Tensor vec({10});
  expect_error_mentions([&] { sm.forward(ctx, vec); }, {"softmax", "head.softmax", "(10,)"});
  Tensor ints({2, 10}, DType::i32);
  expect_error_mentions([&] { sm.forward(ctx, ints); }, {"head.softmax", "int32"});
  Context gpu(Device::cuda(0));
  Tensor x({2, 10});
  expect_error_mentions([&] { sm.forward(gpu, x); }, {"head.softmax", "cuda:0"});
}

}  // namespace
}  // namespace nsal
