// The bf16 channels-last inference path (nn/fuse.h, MathMode::bf16) on the CPU: the rounding
// rule (kernels/bf16.h), the layout and epilogue ops (kernels/cpu/channels_last_cpu.h) against
// their definitions, one ConvBnUnit against a float64 computation from the definition, and
// whole models against the float32 path. The GPU path is compared with this one in
// tests/test_cuda_bf16.cpp.
//
// Tolerances. A unit's output is act(conv + residual + bias) rounded once to bf16, from inputs
// and weights that are bf16 values. The CPU sums the convolution in float32 (im2col + BLAS, or
// Winograd for 3x3 stride 1), the reference in float64: the two sums differ by ~1e-7 relative, so
// after rounding to 8 bits of mantissa they agree except where the sum lies within ~1e-7 of a
// rounding boundary, and then by exactly one bf16 step (2^-8 relative). The test allows one step
// everywhere and at most 1% of elements off by that step. Whole models: each layer's bf16 rounding
// is a relative error of at most 2^-9 per value, and the BatchNorms keep the activations normalised
// rather than amplify the errors: the logits move by 1.3e-3 relative L2 from float32 on
// resnet18-cifar and 1.1e-3 on resnet18-3d (recorded as bf16_cpu_logits_rel_l2 and
// bf16_cpu_3d_logits_rel_l2); bounded at 2e-2, and required to be above 1e-4 (the path really
// rounds).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "conv_reference.h"
#include "fused_test_util.h"
#include "gradcheck.h"
#include "kernels/bf16.h"
#include "kernels/channels_last.h"
#include "kernels/cpu/channels_last_cpu.h"
#include "layer_test_util.h"
#include "nn/fuse.h"
#include "nn/hdf5.h"
#include "nn/models/registry.h"
#include "nn/models/resnet_cifar.h"
#include "test_data_util.h"

namespace nsal {
namespace {

using kernels::from_bf16;
using kernels::to_bf16;
using testing::fill_uniform;
using testing::randomise_batchnorms;
using testing::rel_l2;

float from_bits(uint32_t u) {
  return kernels::fp::from_bits(u);
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(to_bf16(-2.5f), 0xc020);
  EXPECT_EQ(to_bf16(0.0f), 0x0000);
  EXPECT_EQ(to_bf16(-0.0f), 0x8000);
  // 1 + 2^-8 lies halfway between 0x3f80 (1) and 0x3f81 (1 + 2^-7): ties go to the even one.
  EXPECT_EQ(to_bf16(1.0f + 0x1p-8f), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 0x3f81 and 0x3f82: the even one is 0x3f82.
  EXPECT_EQ(to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  // Just above a tie rounds up, just below rounds down.
  EXPECT_EQ(to_bf16(from_bits(0x3f808001u)), 0x3f81);
  EXPECT_EQ(to_bf16(from_bits(0x3f807fffu)), 0x3f80);
  // A subnormal rounds the same way.
  EXPECT_EQ(to_bf16(from_bits(0x00018000u)), 0x0002);
  EXPECT_EQ(to_bf16(from_bits(0x00008000u)), 0x0000);
  // The largest finite bf16 (0x7f7f) stays; beyond its halfway point to 2^128 is infinity.
  EXPECT_EQ(to_bf16(from_bits(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(to_bf16(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  // Every NaN becomes the one NaN 0x7fc0, even one whose payload is only in the low bits.
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fbfffffu, 0x7fffffffu})
    EXPECT_EQ(to_bf16(from_bits(nan)), 0x7fc0) << std::hex << nan;
  // Conversion back is exact, and every finite or infinite bf16 value survives a round trip
  // through float32.
  EXPECT_EQ(from_bf16(0x3f81), 1.0f + 0x1p-7f);
  for (uint32_t b = 0; b < 0x10000u; ++b) {
    const bool nan = (b & 0x7f80u) == 0x7f80u && (b & 0x7fu) != 0;
    ASSERT_EQ(to_bf16(from_bf16(static_cast<uint16_t>(b))), nan ? 0x7fc0u : b) << std::hex << b;
  }
}

TEST(Bf16, TensorsStoreBitsAndConvertThroughDouble) {
  Tensor t = Tensor::from_vector({1.0, 1.0 + 1.0 / 256, -3.14159, 1e30}, {4}, DType::bf16);
  EXPECT_EQ(t.dtype(), DType::bf16);
  EXPECT_EQ(t.nbytes(), 8u);
  const uint16_t* b = t.data<uint16_t>();
  EXPECT_EQ(b[0], 0x3f80);
  EXPECT_EQ(b[1], 0x3f80);  // the tie goes to even
  EXPECT_EQ(t.at(2), static_cast<double>(kernels::round_bf16(-3.14159f)));
  EXPECT_EQ(t.to_vector()[3], static_cast<double>(kernels::round_bf16(1e30f)));
  testing::expect_error_mentions([&] { t.data<float>(); }, {"bfloat16", "float32"});
  testing::expect_error_mentions(
      [&] {
        testing::TempDir dir;
        h5::File f = h5::File::create(dir / "bf16.h5");
        f.write_tensor("t", t);
      },
      {"bfloat16", "float32"});
}

TEST(Bf16, ChannelsLastLayoutRoundsAndInverts) {
  const int64_t n = 2, c = 3, s = 5;
  Tensor x({n, c, s});
  std::mt19937_64 rng(3);
  fill_uniform(x, rng);
  std::vector<uint16_t> y(static_cast<size_t>(n * c * s));
  kernels::cpu::to_channels_last_bf16(x.data<float>(), n, c, s, y.data());
  const float* xf = x.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < s; ++j)
      for (int64_t k = 0; k < c; ++k)
        ASSERT_EQ(y[static_cast<size_t>((i * s + j) * c + k)], to_bf16(xf[(i * c + k) * s + j]));
  std::vector<float> back(y.size());
  kernels::cpu::from_channels_last_bf16(y.data(), n, c, s, back.data());
  for (int64_t t = 0; t < n * c * s; ++t)
    ASSERT_EQ(back[static_cast<size_t>(t)], kernels::round_bf16(xf[t]));
  EXPECT_EQ(to_channels_last_shape({2, 3, 4, 5}), (Shape{2, 4, 5, 3}));
  EXPECT_EQ(from_channels_last_shape({2, 4, 5, 3}), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(to_channels_last_shape({2, 3, 4, 5, 6}), (Shape{2, 4, 5, 6, 3}));
}

TEST(Bf16, EpilogueAndPoolingFollowTheirDefinitions) {
  const int64_t n = 2, c = 4, s = 6;
  std::mt19937_64 rng(4);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> conv(static_cast<size_t>(n * c * s));  // (N, C, S)
  std::vector<uint16_t> res(conv.size()), bias(static_cast<size_t>(c));
  for (float& v : conv)
    v = g(rng);
  for (uint16_t& v : res)
    v = to_bf16(g(rng));
  for (uint16_t& v : bias)
    v = to_bf16(g(rng));
  conv[1] = std::numeric_limits<float>::quiet_NaN();
  for (bool relu : {false, true}) {
    std::vector<uint16_t> y(conv.size());
    kernels::cpu::conv_epilogue_channels_last_bf16(conv.data(), res.data(), bias.data(), relu, n, c,
                                                   s, y.data());
    int negatives = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j)
        for (int64_t k = 0; k < c; ++k) {
          const size_t t = static_cast<size_t>((i * s + j) * c + k);
          const float v = (conv[static_cast<size_t>((i * c + k) * s + j)] + from_bf16(res[t])) +
                          from_bf16(bias[static_cast<size_t>(k)]);
          if (std::isnan(v)) {
            EXPECT_TRUE(std::isnan(from_bf16(y[t]))) << "NaN passes the ReLU too";
            continue;
          }
          negatives += v < 0;
          ASSERT_EQ(y[t], to_bf16(relu && v < 0 ? 0.f : v)) << t;
        }
    EXPECT_GT(negatives, 0);
  }
  std::vector<float> pooled(static_cast<size_t>(n * c));
  kernels::cpu::global_avg_pool_channels_last_bf16(res.data(), n, s, c, pooled.data());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) {
      double sum = 0;
      for (int64_t j = 0; j < s; ++j)
        sum += from_bf16(res[static_cast<size_t>((i * s + j) * c + k)]);
      EXPECT_EQ(pooled[static_cast<size_t>(i * c + k)], static_cast<float>(sum / s));
    }
}

// One unit on the bf16 path against the definition in float64: BatchNorm folded into the
// weights (kernels/bn_fold.h's per-channel rule, then rounded to bf16), the convolution of the
// bf16 input, + residual + bias, the activation, one rounding (tolerance: top of the file).
void check_unit_bf16(int spatial, bool relu, bool residual) {
  SCOPED_TRACE("spatial " + std::to_string(spatial) + (relu ? " relu" : "") +
               (residual ? " residual" : ""));
  ConvOptions o = spatial == 2 ? ConvOptions::make2d(4, 6, 3, 2, 1, 1, 2, true)
                               : ConvOptions::make3d(4, 6, 3, 2, 1, 1, 2, true);
  testing::ConvBnLayers layers(spatial, o);
  ConvNd& conv = layers.conv;
  BatchNorm& bn = layers.bn;
  ParamArena& arena = layers.arena;
  std::mt19937_64 rng(spatial * 10 + relu + 2 * residual);
  fill_uniform(arena.params(), rng);
  randomise_batchnorms(arena, rng);
  conv.set_training(false);
  bn.set_training(false);
  Context ctx;
  const Shape in = spatial == 2 ? Shape{3, 4, 9, 7} : Shape{2, 4, 5, 9, 7};
  Tensor x(in);
  fill_uniform(x, rng);
  Tensor x16;
  to_channels_last_bf16(ctx, x, x16);
  const Shape ys = conv.output_shape(in);
  const Shape ys_cl = to_channels_last_shape(ys);
  Tensor r(ys_cl, DType::bf16);
  {
    Tensor rf(ys_cl);
    fill_uniform(rf, rng);
    r.copy_from(Tensor::from_vector(rf.to_vector(), ys_cl, DType::bf16));
  }
  ConvBnUnit unit(&conv, &bn);
  FoldScratch scratch;
  const Tensor& y = unit.forward_bf16(ctx, x16, residual ? &r : nullptr, relu, scratch);
  ASSERT_EQ(y.shape(), ys_cl);
  ASSERT_EQ(y.dtype(), DType::bf16);

  // The reference, from the definition.
  const kernels::ConvShape cs = conv.conv_shape(in);
  const int64_t C = 6, per = conv.weight().numel() / C;
  std::vector<double> w(static_cast<size_t>(C * per)), b(static_cast<size_t>(C));
  const float* cw = conv.weight().data<float>();
  for (int64_t k = 0; k < C; ++k) {
    // BN(conv + cb) = conv(x, w s) + (cb - mean) s + beta, s = gamma / sqrt(var + eps).
    const double s =
        bn.weight().data<float>()[k] /
        std::sqrt(static_cast<double>(bn.running_var().data<float>()[k]) + bn.options().eps);
    const double bias =
        (static_cast<double>(conv.bias().data<float>()[k]) - bn.running_mean().data<float>()[k]) *
            s +
        bn.bias().data<float>()[k];
    for (int64_t j = 0; j < per; ++j)
      w[static_cast<size_t>(k * per + j)] =
          kernels::round_bf16(static_cast<float>(cw[k * per + j] * s));
    b[static_cast<size_t>(k)] = kernels::round_bf16(static_cast<float>(bias));
  }
  std::vector<double> xr = x.to_vector();
  for (double& v : xr)
    v = kernels::round_bf16(static_cast<float>(v));
  std::vector<double> acc(static_cast<size_t>(shape_numel(ys)), 0.0);  // (N, C, S')
  testing::ConvReference{cs}.for_each_term([&](int64_t yi, int64_t xi, int64_t wi) {
    acc[static_cast<size_t>(yi)] += xr[static_cast<size_t>(xi)] * w[static_cast<size_t>(wi)];
  });
  const int64_t n = ys[0], s = shape_numel(ys) / (ys[0] * C);
  const std::vector<double> got = y.to_vector(), rv = r.to_vector();
  int off_by_one_step = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < s; ++j)
      for (int64_t k = 0; k < C; ++k) {
        const size_t t = static_cast<size_t>((i * s + j) * C + k);
        double v = acc[static_cast<size_t>((i * C + k) * s + j)] + (residual ? rv[t] : 0.0) +
                   b[static_cast<size_t>(k)];
        if (relu && v < 0) v = 0;
        const double want = kernels::round_bf16(static_cast<float>(v));
        if (got[t] == want) continue;
        ++off_by_one_step;
        EXPECT_LE(std::abs(got[t] - want), std::abs(want) * 0x1p-7 + 1e-30) << t;
      }
  EXPECT_LE(off_by_one_step, static_cast<int>(got.size() / 100 + 1));
  EXPECT_FALSE(unit.fused_kernel());
}

TEST(Bf16Inference, ConvBnUnitMatchesTheDefinition) {
  for (int spatial : {2, 3})
    for (bool relu : {false, true})
      for (bool residual : {false, true})
        check_unit_bf16(spatial, relu, residual);
}

TEST(Bf16Inference, UnitErrorsNameTheLayersAndTheLayout) {
  testing::ConvBnLayers layers(2, ConvOptions::make2d(3, 4, 3, 1, 1, 1, 1, false), Device::cpu(),
                               "layer1.0.conv1", "layer1.0.bn1");
  layers.set_training(false);
  ConvBnUnit unit(&layers.conv, &layers.bn);
  FoldScratch scratch;
  Context ctx;
  Tensor x32 = Tensor::zeros({1, 8, 8, 3});
  testing::expect_error_mentions([&] { unit.forward_bf16(ctx, x32, nullptr, true, scratch); },
                                 {"layer1.0.conv1", "bfloat16", "float32"});
  Tensor wrong_channels({1, 8, 8, 5}, DType::bf16);
  testing::expect_error_mentions(
      [&] { unit.forward_bf16(ctx, wrong_channels, nullptr, true, scratch); }, {"layer1.0.conv1"});
  Tensor x({1, 8, 8, 3}, DType::bf16);
  Tensor bad_residual({1, 4, 8, 8}, DType::bf16);  // channels-first: the wrong layout
  testing::expect_error_mentions([&] { unit.forward_bf16(ctx, x, &bad_residual, true, scratch); },
                                 {"layer1.0.conv1", "residual", "(1, 8, 8, 4)"});
}

class Bf16ResNet : public ::testing::TestWithParam<int> {};

// resnet18-cifar (2D) and resnet18-3d on the bf16 path against float32 (tolerance: top of the
// file); features() are the bf16 path's pooled features; the path is taken only with fused
// inference, in eval mode, under MathMode::bf16.
TEST_P(Bf16ResNet, FollowsFloat32WithinBf16Rounding) {
  const int spatial = GetParam();
  auto model =
      make_model({spatial == 2 ? "resnet18-cifar" : "resnet18-3d", spatial == 2 ? 3 : 1, 10});
  model->build(Device::cpu(), 31);
  std::mt19937_64 rng(6);
  randomise_batchnorms(model->arena(), rng);
  Shape in{2};
  for (int64_t d : model->input_shape())
    in.push_back(d);
  if (spatial == 3) in[0] = 1;
  Tensor x(in);
  fill_uniform(x, rng);
  model->set_training(false);
  Context ctx;
  const std::vector<double> ref = model->forward(ctx, x).to_vector();
  const std::vector<double> ref_features = model->features().to_vector();
  ctx.set_math_mode(MathMode::bf16);
  EXPECT_EQ(model->forward(ctx, x).to_vector(), ref) << "bf16 applies to the fused path only";
  model->set_fused_inference(true);
  const std::vector<double> got = model->forward(ctx, x).to_vector();
  const double err = rel_l2(got, ref);
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", err);
  RecordProperty(spatial == 2 ? "bf16_cpu_logits_rel_l2" : "bf16_cpu_3d_logits_rel_l2", text);
  EXPECT_LE(err, 2e-2);
  EXPECT_GT(err, 1e-4) << "the bf16 path rounds";
  const Tensor& f = model->features();
  EXPECT_EQ(f.shape(), (Shape{in[0], 512}));
  EXPECT_LE(rel_l2(f.to_vector(), ref_features), 2e-2);
  // Deterministic, and back to float32 when the math mode is.
  EXPECT_EQ(model->forward(ctx, x).to_vector(), got);
  ctx.set_math_mode(MathMode::strict_fp32);
  EXPECT_LE(rel_l2(model->forward(ctx, x).to_vector(), ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Spatial, Bf16ResNet, ::testing::Values(2, 3));

}  // namespace
}  // namespace nsal
