#include <gtest/gtest.h>

#include <cmath>

#include "nn/layers/upsample.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

// Naive align_corners=False bilinear interpolation of one (H, W) plane, written from PyTorch's
// documented definition: the source coordinate of output o is (o + 0.5) / scale - 0.5, clamped
// below at 0, blended between floor and floor + 1 (clamped at the edge).
std::vector<double> naive_bilinear(const std::vector<double>& x, int64_t planes, int64_t H,
                                   int64_t W, int64_t OH, int64_t OW, double rh, double rw) {
  std::vector<double> y;
  auto taps = [](double r, int64_t o, int64_t n, int64_t& a, int64_t& b, double& l) {
    double src = std::max(0.0, (static_cast<double>(o) + 0.5) * r - 0.5);
    a = std::min(static_cast<int64_t>(std::floor(src)), n - 1);
    b = std::min(a + 1, n - 1);
    l = src - static_cast<double>(a);
  };
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t h0, h1, w0, w1;
        double lh, lw;
        taps(rh, oh, H, h0, h1, lh);
        taps(rw, ow, W, w0, w1, lw);
        auto at = [&](int64_t h, int64_t w) { return x[(p * H + h) * W + w]; };
        y.push_back((1 - lh) * ((1 - lw) * at(h0, w0) + lw * at(h0, w1)) +
                    lh * ((1 - lw) * at(h1, w0) + lw * at(h1, w1)));
      }
  return y;
}

TEST(UpsampleBilinear2d, KnownPyTorchValuesForScaleTwo) {
  // torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
  UpsampleBilinear2d up("up", UpsampleScale{2, 2});
  Context ctx;
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2}, DType::f64);
  testing::expect_tensor_near(
      up.forward(ctx, x),
      {1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0},
      1e-15, "upsampled");
}

TEST(UpsampleBilinear2d, MatchesNaiveReferenceForScalesAndSizes) {
  std::mt19937_64 rng(1);
  Context ctx;
  Tensor x = testing::random_tensor({2, 3, 5, 7}, rng);
  {
    UpsampleBilinear2d up("up", UpsampleScale{2.0, 1.5});  // output (10, 10): step 1 / scale
    const Tensor& y = up.forward(ctx, x);
    EXPECT_EQ(y.shape(), (Shape{2, 3, 10, 10}));
    testing::expect_tensor_near(y, naive_bilinear(x.to_vector(), 6, 5, 7, 10, 10, 0.5, 1 / 1.5),
                                1e-14, "scale (2, 1.5)");
  }
  {
    UpsampleBilinear2d up("up", UpsampleSize{9, 4});  // step in / out, downsampling in W
    const Tensor& y = up.forward(ctx, x);
    EXPECT_EQ(y.shape(), (Shape{2, 3, 9, 4}));
    testing::expect_tensor_near(y, naive_bilinear(x.to_vector(), 6, 5, 7, 9, 4, 5.0 / 9, 7.0 / 4),
                                1e-14, "size (9, 4)");
  }
}

TEST(UpsampleBilinear2d, GradientsMatchFiniteDifferences) {
  UpsampleBilinear2d scale("up", UpsampleScale{2, 2});
  testing::expect_gradients_match(scale, {2, 2, 3, 4});
  UpsampleBilinear2d size("up", UpsampleSize{7, 3});
  testing::expect_gradients_match(size, {1, 2, 4, 5});
  UpsampleBilinear2d fractional("up", UpsampleScale{1.5, 2.5});  // step 1 / scale, not in / out
  testing::expect_gradients_match(fractional, {1, 2, 5, 4});
  testing::expect_f32_matches_f64(
      [] {
        return std::make_unique<UpsampleBilinear2d>("up", UpsampleScale{4, 4});
      },
      {4, 8, 16, 16}, 1e-6);
}

TEST(UpsampleBilinear2d, RejectsBadInputsNamingTheLayer) {
  Context ctx;
  UpsampleBilinear2d up("decoder.up", UpsampleScale{2, 2});
  Tensor rank3({2, 3, 4});
  expect_error_mentions([&] { up.forward(ctx, rank3); },
                        {"upsample_bilinear2d", "decoder.up", "(N, C, H, W)", "(2, 3, 4)"});
  UpsampleBilinear2d shrink("decoder.up", UpsampleScale{0.1, 0.1});
  Tensor small({1, 1, 4, 4});
  expect_error_mentions([&] { shrink.forward(ctx, small); },
                        {"decoder.up", "(1, 1, 4, 4)", "empty"});
  Tensor ints({1, 1, 4, 4}, DType::i32);
  expect_error_mentions([&] { up.forward(ctx, ints); }, {"decoder.up", "int32"});
  Context gpu(Device::cuda(0));
  expect_error_mentions([&] { up.forward(gpu, small); }, {"decoder.up", "cuda:0"});
  expect_error_mentions([] { UpsampleBilinear2d("u", UpsampleScale{0, 2}); }, {"u", "positive"});
  expect_error_mentions([] { UpsampleBilinear2d("u", UpsampleSize{0, 2}); }, {"u", "positive"});
}

}  // namespace
}  // namespace nsal
