#include <gtest/gtest.h>

#include "nn/layers/reshape.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

TEST(Flatten, MergesTheChosenDimensionsAndKeepsOrder) {
  std::mt19937_64 rng(1);
  Context ctx;
  Tensor x = testing::random_tensor({2, 3, 4, 5}, rng);
  Flatten flat("flat");
  const Tensor& y = flat.forward(ctx, x);
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  EXPECT_EQ(y.to_vector(), x.to_vector());
  EXPECT_EQ(Flatten("f", 2).output_shape({2, 3, 4, 5}), (Shape{2, 3, 20}));
  EXPECT_EQ(Flatten("f", 1, 2).output_shape({2, 3, 4, 5}), (Shape{2, 12, 5}));
  EXPECT_EQ(Flatten("f", 0).output_shape({2, 3, 4}), (Shape{24}));
  testing::expect_gradients_match(flat, {2, 3, 4});
}

TEST(Reshape, ReshapesEachSampleAndInfersOneDimension) {
  std::mt19937_64 rng(2);
  Context ctx;
  Tensor x = testing::random_tensor({3, 48}, rng);
  Reshape r("unflat", {3, -1, 4});
  const Tensor& y = r.forward(ctx, x);
  EXPECT_EQ(y.shape(), (Shape{3, 3, 4, 4}));
  EXPECT_EQ(y.to_vector(), x.to_vector());
  testing::expect_gradients_match(r, {3, 48});
}

TEST(Reshape, RejectsImpossibleShapesNamingTheLayer) {
  Context ctx;
  Tensor x({2, 10});
  Reshape r("head.view", {3, -1});
  expect_error_mentions([&] { r.forward(ctx, x); }, {"reshape", "head.view", "(2, 10)"});
  Reshape fixed("head.view", {4, 4});
  expect_error_mentions([&] { fixed.forward(ctx, x); }, {"head.view", "(2, 10)"});
  expect_error_mentions([] { Reshape("v", {-1, -1}); }, {"v", "more than one -1"});
  Flatten f("flat", 3);
  expect_error_mentions([&] { f.forward(ctx, x); }, {"flatten", "flat", "(2, 10)"});
  Context gpu(Device::cuda(0));
  expect_error_mentions([&] { Flatten("flat").forward(gpu, x); }, {"flat", "cuda:0"});
  Tensor ints({2, 10}, DType::i32);
  expect_error_mentions([&] { Flatten("flat").forward(ctx, ints); }, {"flat", "int32"});
}

}  // namespace
}  // namespace nsal
