#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nn/layers/activation.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

TEST(ReLU, ForwardMatchesNaiveReferenceAndPropagatesNaN) {
  ReLU relu("act");
  Context ctx;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = Tensor::from_vector({-2.0, -0.0, 0.5, 3.0, nan, -1e-300}, {2, 3}, DType::f64);
  std::vector<double> y = relu.forward(ctx, x).to_vector();
  EXPECT_EQ(y[0], 0.0);
  EXPECT_EQ(y[2], 0.5);
  EXPECT_EQ(y[3], 3.0);
  EXPECT_TRUE(std::isnan(y[4]));
  EXPECT_EQ(y[5], 0.0);
  std::mt19937_64 rng(1);
  Tensor r = testing::random_tensor({3, 7, 5}, rng, DType::f64, -2, 2);
  std::vector<double> want = r.to_vector();
  for (double& v : want)
    v = v > 0 ? v : 0;
  testing::expect_tensor_near(relu.forward(ctx, r), want, 0, "relu");
}

TEST(ReLU6, ForwardMatchesNaiveReference) {
  ReLU6 relu6("act");
  Context ctx;
  std::mt19937_64 rng(2);
  Tensor x = testing::random_tensor({4, 50}, rng, DType::f64, -3, 9);
  std::vector<double> want = x.to_vector();
  for (double& v : want)
    v = std::min(std::max(v, 0.0), 6.0);
  testing::expect_tensor_near(relu6.forward(ctx, x), want, 0, "relu6");
}

// At the kinks and at NaN the gradient follows PyTorch's threshold_backward / hardtanh_backward:
// zero where the value is <= 0 (or >= 6), passed through at a NaN. The CPU backward reads the
// output, as the GPU's does (kernels/activation.h).
TEST(ReLU, BackwardAtKinksAndNaNFollowsPyTorch) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = Tensor::from_vector({-2.0, -0.0, 0.0, 0.5, nan, 6.0, 7.0}, {1, 7}, DType::f64);
  Tensor dy = Tensor::from_vector({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0}, {1, 7}, DType::f64);
  Context ctx;
  ReLU relu("act");
  relu.forward(ctx, x);
  EXPECT_EQ(relu.backward(ctx, dy).to_vector(),
            (std::vector<double>{0.0, 0.0, 0.0, 4.0, 5.0, 6.0, 7.0}));
  ReLU6 relu6("act6");
  relu6.forward(ctx, x);
  EXPECT_EQ(relu6.backward(ctx, dy).to_vector(),
            (std::vector<double>{0.0, 0.0, 0.0, 4.0, 5.0, 0.0, 0.0}));
}

TEST(ReLU, GradientsMatchFiniteDifferencesAwayFromZero) {
  ReLU relu("act");
  testing::GradCheckOptions opt;
  opt.fill_input = [](Tensor& t, std::mt19937_64& rng) {
    testing::fill_away_from(t, rng, {0.0}, -1, 1);
  };
  testing::expect_gradients_match(relu, {3, 4, 5}, opt);
}

TEST(ReLU6, GradientsMatchFiniteDifferencesAwayFromKinks) {
  ReLU6 relu6("act");
  testing::GradCheckOptions opt;
  opt.fill_input = [](Tensor& t, std::mt19937_64& rng) {
    testing::fill_away_from(t, rng, {0.0, 6.0}, -2, 8);
  };
  testing::expect_gradients_match(relu6, {3, 40}, opt);
}

TEST(ReLU, Float32MatchesFloat64OnLargeTensors) {
  // Above the parallel threshold, so the OpenMP path runs too.
  auto fill = [](Tensor& t, std::mt19937_64& rng) {
    testing::fill_away_from(t, rng, {0.0, 6.0}, -2, 8, 1e-3);
  };
  testing::expect_f32_matches_f64([] { return std::make_unique<ReLU>("a"); }, {8, 16, 32, 32}, 1e-6,
                                  fill);
  testing::expect_f32_matches_f64([] { return std::make_unique<ReLU6>("a"); }, {8, 16, 32, 32},
                                  1e-6, fill);
}

TEST(ReLU, RejectsBadInputsNamingTheLayer) {
  ReLU relu("layer2.relu");
  Context ctx;
  Tensor ints({2, 3}, DType::i32);
  expect_error_mentions([&] { relu.forward(ctx, ints); }, {"relu", "layer2.relu", "int32"});
  Context gpu(Device::cuda(0));
  Tensor x({2, 3});
  expect_error_mentions([&] { relu.forward(gpu, x); }, {"layer2.relu", "cuda:0", "cpu"});
  relu.forward(ctx, x);
  Tensor dy({3, 2});
  expect_error_mentions([&] { relu.backward(ctx, dy); }, {"layer2.relu", "(3, 2)", "(2, 3)"});
}

}  // namespace
}  // namespace nsal
