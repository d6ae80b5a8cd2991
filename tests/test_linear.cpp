#include <gtest/gtest.h>

#include "nn/layers/linear.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

TEST(Linear, ForwardMatchesNaiveReference) {
  for (bool bias : {true, false}) {
    std::mt19937_64 rng(1);
    Linear fc("fc", 7, 5, bias);
    ParamArena arena;
    fc.declare(arena);
    arena.allocate(DType::f64, Device::cpu());
    testing::fill_uniform(arena.params(), rng);
    Context ctx;
    Tensor x = testing::random_tensor({2, 3, 7}, rng);  // leading dimensions are rows
    const Tensor& y = fc.forward(ctx, x);
    EXPECT_EQ(y.shape(), (Shape{2, 3, 5}));
    const auto xv = x.to_vector(), w = fc.weight().to_vector();
    const auto b = bias ? fc.bias().to_vector() : std::vector<double>(5, 0.0);
    std::vector<double> want;
    for (int r = 0; r < 6; ++r)
      for (int o = 0; o < 5; ++o) {
        double s = b[o];
        for (int i = 0; i < 7; ++i)
          s += xv[r * 7 + i] * w[o * 7 + i];
        want.push_back(s);
      }
    testing::expect_tensor_near(y, want, 1e-14, "linear output");
  }
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  Linear fc("fc", 6, 4);
  testing::expect_gradients_match(fc, {5, 6});
  Linear nobias("fc", 3, 2, false);
  testing::expect_gradients_match(nobias, {2, 4, 3});
}

TEST(Linear, ParameterGradientsAccumulate) {
  std::mt19937_64 rng(2);
  Linear fc("fc", 4, 3);
  ParamArena arena;
  fc.declare(arena);
  arena.allocate(DType::f64, Device::cpu());
  testing::fill_uniform(arena.params(), rng);
  Context ctx;
  Tensor x = testing::random_tensor({5, 4}, rng), dy = testing::random_tensor({5, 3}, rng);
  arena.zero_grad();
  fc.forward(ctx, x);
  fc.backward(ctx, dy);
  const std::vector<double> once = arena.grads().to_vector();
  fc.forward(ctx, x);
  fc.backward(ctx, dy);
  std::vector<double> twice = once;
  for (double& v : twice)
    v *= 2;
  testing::expect_tensor_near(arena.grads(), twice, 1e-14, "accumulated gradients");
}

TEST(Linear, Float32MatchesFloat64) {
  testing::expect_f32_matches_f64([] { return std::make_unique<Linear>("fc", 64, 10); }, {32, 64},
                                  1e-5);
}

TEST(Linear, DeclaresPyTorchLayout) {
  Linear fc("classifier", 512, 10);
  ParamArena arena;
  fc.declare(arena);
  arena.allocate(DType::f32, Device::cpu());
  EXPECT_EQ(arena.find_param("classifier.weight")->shape, (Shape{10, 512}));
  EXPECT_EQ(arena.find_param("classifier.weight")->layer_type, "linear");
  EXPECT_EQ(arena.find_param("classifier.bias")->role, ParamRole::bias);
}

TEST(Linear, RejectsBadInputsNamingLayerAndShapes) {
  Linear fc("head.fc", 8, 3);
  ParamArena arena;
  fc.declare(arena);
  arena.allocate(DType::f32, Device::cpu());
  Context ctx;
  Tensor wrong({4, 7});
  expect_error_mentions([&] { fc.forward(ctx, wrong); },
                        {"linear", "head.fc", "(..., 8)", "(4, 7)"});
  Tensor f64({4, 8}, DType::f64);
  expect_error_mentions([&] { fc.forward(ctx, f64); }, {"head.fc", "weight", "float32"});
  Tensor ints({4, 8}, DType::i32);
  expect_error_mentions([&] { fc.forward(ctx, ints); }, {"head.fc", "int32"});
  Context gpu(Device::cuda(0));
  Tensor x({4, 8});
  expect_error_mentions([&] { fc.forward(gpu, x); }, {"head.fc", "cuda:0"});
  expect_error_mentions([] { Linear("bad", 0, 3); }, {"bad", "positive"});
}

}  // namespace
}  // namespace nsal
