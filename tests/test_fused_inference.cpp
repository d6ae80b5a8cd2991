// The inference fast path on the CPU (nn/fuse.h): BatchNorm folded into the convolution before
// it, with the ReLU and the residual add applied to the convolution's output, against the
// layer-by-layer reference. The same comparisons on the GPU (cuDNN's fused kernel) are in
// tests/test_cuda_layers.cpp.
//
// Tolerance: folding changes only the rounding. The reference computes
// gamma (conv(x, w) - mean) / sqrt(var + eps) + beta from the float32 convolution; the fused path
// convolves with float32 weights w * s (s = gamma / sqrt(var + eps), rounded once) and adds the
// folded bias, with the same convolution algorithm (im2col + BLAS) on both paths. Each output
// therefore differs by a few float32 roundings, a relative error of order 1e-7 per layer, which
// the following BatchNorms re-normalise rather than amplify (measured on resnet18-cifar: 1.1e-7
// on the logits, recorded as fused_cpu_logits_rel_l2). The bound, 1e-5 relative L2 for the
// whole model and for one unit, leaves a margin of about a hundred and is still far below any
// real mistake (a wrong fold or a missing residual is O(1)). On the GPU the fused kernel may use
// another convolution algorithm than the unfused one; tests/test_cuda_layers.cpp allows for that.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "al/training.h"
#include "fused_test_util.h"
#include "gradcheck.h"
#include "layer_test_util.h"
#include "nn/fuse.h"
#include "nn/layers/activation.h"
#include "nn/models/registry.h"
#include "nn/models/resnet_cifar.h"

namespace nsal {
namespace {

using testing::fill_uniform;
using testing::randomise_batchnorms;
using testing::rel_l2;

struct Outputs {
  std::vector<double> logits, features;
};

Outputs run(Model& m, Context& ctx, const Tensor& x) {
  Outputs o;
  o.logits = m.forward(ctx, x).to_vector();
  o.features = m.features().to_vector();
  return o;
}

class FusedResNet : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = make_model({"resnet18-cifar", 3, 10});
    model_->build(Device::cpu(), 21);
    std::mt19937_64 rng(5);
    randomise_batchnorms(model_->arena(), rng);
    x_ = Tensor({2, 3, 32, 32});
    fill_uniform(x_, rng);
    model_->set_training(false);
  }
  std::unique_ptr<Model> model_;
  Context ctx_;
  Tensor x_;
};

// The fused eval-mode forward of resnet18-cifar equals the layer-by-layer one (tolerance: top of
// the file).
TEST_F(FusedResNet, FusedEqualsUnfusedInEvalMode) {
  ASSERT_TRUE(model_->supports_fused_inference());
  const Outputs ref = run(*model_, ctx_, x_);
  model_->set_fused_inference(true);
  const Outputs fused = run(*model_, ctx_, x_);
  const double err = rel_l2(fused.logits, ref.logits);
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", err);
  RecordProperty("fused_cpu_logits_rel_l2", text);
  EXPECT_LE(err, 1e-5);
  EXPECT_LE(rel_l2(fused.features, ref.features), 1e-5);
  // Not trivially equal: folding rounds differently somewhere.
  EXPECT_NE(fused.features, ref.features);
  auto* resnet = dynamic_cast<ResNetCifar*>(model_.get());
  ASSERT_NE(resnet, nullptr);
  EXPECT_EQ(resnet->fused_units(), 20);                // stem + 16 block convs + 3 shortcuts
  EXPECT_EQ(resnet->fused_kernels_last_forward(), 0);  // the CPU has no fused kernel
  // Turning it off returns to the reference path bit for bit.
  model_->set_fused_inference(false);
  EXPECT_EQ(run(*model_, ctx_, x_).logits, ref.logits);
}

// Folding happens at every forward: weights changed in place (as noise-stability perturbation
// does) are seen by the next fused forward, and restoring them restores the output exactly.
TEST_F(FusedResNet, RefoldsWeightsChangedInPlace) {
  model_->set_fused_inference(true);
  const Outputs before = run(*model_, ctx_, x_);
  Tensor saved = model_->arena().params().clone();
  float* p = model_->arena().params().data<float>();
  std::mt19937_64 rng(8);
  std::normal_distribution<float> noise(0.f, 1.f);
  for (int64_t i = 0; i < model_->arena().arena_size(); ++i)
    p[i] += 0.05f * noise(rng) * std::abs(p[i]);
  const Outputs perturbed_fused = run(*model_, ctx_, x_);
  model_->set_fused_inference(false);
  const Outputs perturbed_ref = run(*model_, ctx_, x_);
  EXPECT_GT(rel_l2(perturbed_ref.logits, before.logits), 1e-3) << "the perturbation is visible";
  EXPECT_LE(rel_l2(perturbed_fused.logits, perturbed_ref.logits), 1e-5);
  model_->arena().params().copy_from(saved);
  model_->set_fused_inference(true);
  EXPECT_EQ(run(*model_, ctx_, x_).logits, before.logits);
}

// Training mode ignores the option (bit for bit the layer path), and a fused forward has no
// backward.
TEST_F(FusedResNet, TrainingModeIgnoresItAndFusedForwardHasNoBackward) {
  auto twin = make_model({"resnet18-cifar", 3, 10});
  twin->build(Device::cpu(), 21);
  twin->arena().params().copy_from(model_->arena().params());
  twin->arena().buffers().copy_from(model_->arena().buffers());
  model_->set_fused_inference(true);
  model_->set_training(true);
  twin->set_training(true);
  EXPECT_EQ(model_->forward(ctx_, x_).to_vector(), twin->forward(ctx_, x_).to_vector());
  Tensor dy = Tensor::zeros({2, 10});
  model_->backward(ctx_, dy);  // the layer path has its backward

  model_->set_training(false);
  model_->forward(ctx_, x_);
  testing::expect_error_mentions([&] { model_->backward(ctx_, dy); },
                                 {"resnet18-cifar", "fused", "backward"});
}

// MC-dropout keeps the layer path (a fused unit has no place for a dropout mask): bit for bit the
// output of the layer path with the option off.
TEST_F(FusedResNet, McDropoutIgnoresIt) {
  const Outputs ref = run(*model_, ctx_, x_);
  model_->set_fused_inference(true);
  model_->set_mc_dropout(true);
  EXPECT_EQ(run(*model_, ctx_, x_).logits, ref.logits);
  model_->set_mc_dropout(false);
  EXPECT_NE(run(*model_, ctx_, x_).logits, ref.logits) << "and without MC-dropout it is fused";
}

// The rule that runs and commands apply (al/training.h): fused only where asked, on a GPU, for a
// model that has the path; the CPU keeps the layer path.
TEST_F(FusedResNet, RuleKeepsTheCpuOnTheLayerPath) {
  model_->set_fused_inference(true);
  EXPECT_FALSE(al::fused_inference_rule(*model_, ctx_, true));
  EXPECT_FALSE(al::set_fused_inference_by_rule(*model_, ctx_, true));
  EXPECT_FALSE(model_->fused_inference()) << "the rule also turns it off";
  auto mnist = make_model({"mnist-cnn", 1, 10});
  EXPECT_FALSE(al::set_fused_inference_by_rule(*mnist, ctx_, true));
}

TEST(FusedInference, ModelsWithoutConvBatchNormRefuse) {
  auto m = make_model({"mnist-cnn", 1, 10});
  EXPECT_FALSE(m->supports_fused_inference());
  testing::expect_error_mentions([&] { m->set_fused_inference(true); },
                                 {"mnist-cnn", "no fused inference"});
  EXPECT_NO_THROW(m->set_fused_inference(false));
}

// One unit in isolation, 2D and 3D, with a conv bias, groups, stride and a residual: fused
// output vs conv -> BN -> (+ residual) -> ReLU through the layers (tolerance: top of the file).
void check_unit(int spatial, bool relu, bool residual, bool conv_bias) {
  SCOPED_TRACE("spatial " + std::to_string(spatial) + (relu ? " relu" : "") +
               (residual ? " residual" : "") + (conv_bias ? " bias" : ""));
  ConvOptions o = spatial == 2 ? ConvOptions::make2d(4, 6, 3, 2, 1, 1, 2, conv_bias)
                               : ConvOptions::make3d(4, 6, 3, 2, 1, 1, 2, conv_bias);
  testing::ConvBnLayers layers(spatial, o);
  ConvNd& conv = layers.conv;
  BatchNorm& bn = layers.bn;
  ParamArena& arena = layers.arena;
  ReLU act("r");
  std::mt19937_64 rng(spatial * 10 + relu + 2 * residual + 4 * conv_bias);
  fill_uniform(arena.params(), rng);
  randomise_batchnorms(arena, rng);
  conv.set_training(false);
  bn.set_training(false);
  act.set_training(false);
  Context ctx;
  const Shape in = spatial == 2 ? Shape{3, 4, 9, 7} : Shape{2, 4, 5, 9, 7};
  Tensor x(in);
  fill_uniform(x, rng);
  const Tensor& z = bn.forward(ctx, conv.forward(ctx, x));
  Tensor r(z.shape());
  fill_uniform(r, rng);
  Tensor sum = z.clone();
  if (residual) {
    float* s = sum.data<float>();
    const float* q = r.data<float>();
    for (int64_t i = 0; i < sum.numel(); ++i)
      s[i] += q[i];
  }
  const std::vector<double> want = relu ? act.forward(ctx, sum).to_vector() : sum.to_vector();

  ConvBnUnit unit(&conv, &bn);
  FoldScratch scratch;
  const std::vector<double> got =
      unit.forward(ctx, x, residual ? &r : nullptr, relu, scratch).to_vector();
  EXPECT_LE(rel_l2(got, want), 1e-5);
  EXPECT_FALSE(unit.fused_kernel());
}

TEST(FusedInference, ConvBnUnitMatchesLayers) {
  for (int spatial : {2, 3})
    for (bool relu : {false, true})
      for (bool residual : {false, true})
        check_unit(spatial, relu, residual, spatial == 2);
  check_unit(2, true, false, false);
}

TEST(FusedInference, ConvBnUnitErrorsNameTheLayers) {
  testing::ConvBnLayers layers(2, ConvOptions::make2d(3, 4, 3, 1, 1, 1, 1, false), Device::cpu(),
                               "layer1.0.conv1", "layer1.0.bn1");
  ConvNd& conv = layers.conv;
  BatchNorm& bn = layers.bn;
  ConvBnUnit unit(&conv, &bn);
  FoldScratch scratch;
  Context ctx;
  Tensor x = Tensor::zeros({1, 3, 8, 8});
  // Layers are in training mode by default.
  testing::expect_error_mentions([&] { unit.forward(ctx, x, nullptr, true, scratch); },
                                 {"layer1.0.conv1", "layer1.0.bn1", "eval mode"});
  conv.set_training(false);
  bn.set_training(false);
  Tensor x64 = Tensor::zeros({1, 3, 8, 8}, DType::f64);
  testing::expect_error_mentions([&] { unit.forward(ctx, x64, nullptr, true, scratch); },
                                 {"layer1.0.conv1", "float32"});
  Tensor wrong = Tensor::zeros({1, 3, 8, 8});
  Tensor bad_residual = Tensor::zeros({1, 4, 7, 8});
  testing::expect_error_mentions([&] { unit.forward(ctx, wrong, &bad_residual, true, scratch); },
                                 {"layer1.0.bn1", "residual", "(1, 4, 8, 8)"});
  BatchNorm plain(2, "plain", 4, BatchNormOptions{1e-5, 0.1, false, true});
  testing::expect_error_mentions([&] { ConvBnUnit u(&conv, &plain); }, {"plain", "affine"});
}

}  // namespace
}  // namespace nsal
