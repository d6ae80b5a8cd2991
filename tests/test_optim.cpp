#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nn/init.h"
#include "nn/models/registry.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/optimizer.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {

namespace {

using testing::expect_error_mentions;

// An arena with one linear layer's weight (2, 3) and bias (2,).
struct TinyArena {
  ParamArena arena;
  Tensor w, gw, b, gb;
  TinyArena() {
    arena.add_param("fc.weight", {2, 3}, "linear", ParamRole::weight, &w, &gw);
    arena.add_param("fc.bias", {2}, "linear", ParamRole::bias, &b, &gb);
    arena.allocate(DType::f32, Device::cpu());
    for (int i = 0; i < 6; ++i)
      w.data<float>()[i] = 0.1f * (i - 2);
    for (int i = 0; i < 2; ++i)
      b.data<float>()[i] = 0.5f - i;
  }
  void set_grads(int step) {
    for (int i = 0; i < 6; ++i)
      gw.data<float>()[i] = std::sin(1.0f + i + 3.0f * step);
    for (int i = 0; i < 2; ++i)
      gb.data<float>()[i] = std::cos(2.0f + i + 5.0f * step);
  }
};

// PyTorch's SGD written out plainly in double, one parameter element at a time.
double ref_sgd(double w, const std::vector<double>& grads, double lr, double mu, double wd,
               bool nesterov) {
  double buf = 0;
  for (size_t t = 0; t < grads.size(); ++t) {
    double g = grads[t] + wd * w;
    buf = t == 0 ? g : mu * buf + g;
    double d = nesterov ? g + mu * buf : buf;
    w -= lr * d;
  }
  return w;
}

double ref_adam(double w, const std::vector<double>& grads, double lr, double b1, double b2,
                double eps, double wd, bool decoupled) {
  double m = 0, v = 0;
  for (size_t t = 0; t < grads.size(); ++t) {
    double g = grads[t];
    if (decoupled)
      w *= 1 - lr * wd;
    else
      g += wd * w;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    double c1 = 1 - std::pow(b1, t + 1), c2 = 1 - std::pow(b2, t + 1);
    w -= lr * (m / c1) / (std::sqrt(v / c2) + eps);
  }
  return w;
}
}  // namespace

class SgdVariants : public ::testing::TestWithParam<bool> {};

TEST_P(SgdVariants, MatchesPyTorchFormula) {
  bool nesterov = GetParam();
  TinyArena t;
  std::vector<double> w0 = t.w.to_vector();
  std::vector<std::vector<double>> hist(6);
  Sgd opt(t.arena, {0.05f, 0.9f, 0.0f, 1e-2f, nesterov});
  Context ctx;
  for (int step = 0; step < 4; ++step) {
    t.set_grads(step);
    for (int i = 0; i < 6; ++i)
      hist[i].push_back(t.gw.data<float>()[i]);
    opt.step(ctx);
  }
  for (int i = 0; i < 6; ++i)
    EXPECT_NEAR(t.w.data<float>()[i], ref_sgd(w0[i], hist[i], 0.05, 0.9, 1e-2, nesterov), 1e-6);
}
INSTANTIATE_TEST_SUITE_P(Optim, SgdVariants, ::testing::Values(false, true));

class AdamVariants : public ::testing::TestWithParam<bool> {};

TEST_P(AdamVariants, MatchesPyTorchFormula) {
  bool decoupled = GetParam();
  TinyArena t;
  std::vector<double> w0 = t.w.to_vector();
  std::vector<std::vector<double>> hist(6);
  Adam opt(t.arena, {1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, decoupled});
  Context ctx;
  for (int step = 0; step < 5; ++step) {
    t.set_grads(step);
    for (int i = 0; i < 6; ++i)
      hist[i].push_back(t.gw.data<float>()[i]);
    opt.step(ctx);
  }
  for (int i = 0; i < 6; ++i)
    EXPECT_NEAR(t.w.data<float>()[i],
                ref_adam(w0[i], hist[i], 1e-2, 0.9, 0.999, 1e-8, 0.1, decoupled), 1e-6);
}
INSTANTIATE_TEST_SUITE_P(Optim, AdamVariants, ::testing::Values(false, true));

// Adam's bias corrections (kernels/optim.h, the same function on the GPU): PyTorch's
// 1 - beta^step and sqrt(1 - beta2^step) in double, rounded to float, for every step up to 10^5
// (at most one float ulp from std::pow's double, whose own last bit may differ).
TEST(Optim, AdamBiasCorrectionsAreDoublePowersRoundedOnce) {
  for (float b1 : {0.9f, 0.5f}) {
    const float b2 = 0.999f;
    for (int64_t t = 1; t <= 100000; t += (t < 100 ? 1 : 97)) {
      float c1 = 0.f, c2 = 0.f;
      kernels::adam_bias_corrections(b1, b2, t, c1, c2);
      const float want1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), t));
      const float want2 = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(b2), t)));
      ASSERT_LE(std::abs(c1 - want1), std::nextafter(want1, 2.f) - want1) << "step " << t;
      ASSERT_LE(std::abs(c2 - want2), std::nextafter(want2, 2.f) - want2) << "step " << t;
    }
  }
}

// The optimizers step the whole arena, padding included: the padding of the parameters stays
// zero because backward never writes the padding of the gradients. Checked on a real model's
// arena through a backward and steps of SGD (momentum, weight decay) and AdamW.
TEST(Optim, ArenaPaddingStaysZeroThroughRealSteps) {
  auto m = make_model({"mnist-cnn", 1, 10});
  m->build(Device::cpu(), 3);
  ParamArena& a = m->arena();
  std::vector<bool> padding(static_cast<size_t>(a.arena_size()), true);
  for (const ParamInfo& p : a.param_infos())
    for (int64_t i = p.offset; i < p.offset + p.numel; ++i)
      padding[static_cast<size_t>(i)] = false;
  int64_t padded = 0;
  for (bool b : padding)
    padded += b;
  ASSERT_GT(padded, 0) << "mnist-cnn's arena has padding between its tensors";
  auto expect_padding_zero = [&](const Tensor& t, const char* what) {
    const float* v = t.data<float>();
    for (size_t i = 0; i < padding.size(); ++i)
      if (padding[i]) {
        ASSERT_TRUE(v[i] == 0.0f && !std::signbit(v[i])) << what << " at " << i;
      }
  };
  Sgd sgd(a, {0.1f, 0.9f, 0.0f, 1e-2f, false});
  Adam adamw(a, {1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, true});
  Context ctx;
  std::mt19937_64 rng(9);
  Tensor x({4, 1, 28, 28});
  testing::fill_uniform(x, rng);
  for (Optimizer* opt : {static_cast<Optimizer*>(&sgd), static_cast<Optimizer*>(&adamw)})
    for (int step = 0; step < 2; ++step) {
      opt->zero_grad(ctx);
      m->set_training(true);
      const Tensor& y = m->forward(ctx, x);
      Tensor dy(y.shape());
      testing::fill_uniform(dy, rng);
      m->backward(ctx, dy);
      expect_padding_zero(a.grads(), "gradient padding after backward");
      opt->step(ctx);
      expect_padding_zero(a.params(), "parameter padding after a step");
    }
}

TEST(Optim, ClipGradNormScalesToMaxNorm) {
  TinyArena t;
  t.set_grads(1);
  double before = 0;
  for (double g : t.arena.grads().to_vector())
    before += g * g;
  Sgd opt(t.arena, {});
  Context ctx;
  opt.clip_grad_norm(ctx, 0.5);
  EXPECT_NEAR(opt.last_grad_norm(), std::sqrt(before), 1e-6);
  double after = 0;
  for (double g : t.arena.grads().to_vector())
    after += g * g;
  EXPECT_NEAR(std::sqrt(after), 0.5, 1e-5);
}

TEST(Optim, RejectsBadOptions) {
  TinyArena t;
  expect_error_mentions(
      [&] {
        Sgd(t.arena, {0.1f, 0.0f, 0.0f, 0.0f, true});
      },
      {"nesterov", "momentum"});
  expect_error_mentions(
      [&] {
        Adam(t.arena, {1e-3f, 1.0f, 0.999f, 1e-8f, 0.0f, false});
      },
      {"betas", "[0, 1)"});
}

TEST(LrSchedule, MultiStepAndCosineMatchPyTorch) {
  LrSchedule ms = LrSchedule::parse("multistep", 0.1, 200, {60, 120, 160}, 0.2);
  EXPECT_DOUBLE_EQ(ms.lr_at(0), 0.1);
  EXPECT_NEAR(ms.lr_at(60), 0.02, 1e-15);
  EXPECT_NEAR(ms.lr_at(170), 0.1 * 0.2 * 0.2 * 0.2, 1e-15);
  LrSchedule cos = LrSchedule::parse("cosine", 0.1, 100);
  EXPECT_DOUBLE_EQ(cos.lr_at(0), 0.1);
  EXPECT_NEAR(cos.lr_at(50), 0.05, 1e-15);
  EXPECT_NEAR(cos.lr_at(100), 0.0, 1e-15);
  expect_error_mentions([&] { LrSchedule::parse("warmup", 0.1, 10); }, {"lr schedule", "warmup"});
}

TEST(Init, PyTorchDefaultBoundsAndDeterminism) {
  ParamArena a;
  Tensor w, gw, b, gb, g, gg, be, gbe, rv;
  a.add_param("conv1.weight", {8, 3, 3, 3}, "conv2d", ParamRole::weight, &w, &gw);
  a.add_param("conv1.bias", {8}, "conv2d", ParamRole::bias, &b, &gb);
  a.add_param("bn1.weight", {8}, "batchnorm2d", ParamRole::weight, &g, &gg);
  a.add_param("bn1.bias", {8}, "batchnorm2d", ParamRole::bias, &be, &gbe);
  a.add_buffer("bn1.running_var", {8}, "batchnorm2d", &rv);
  a.allocate(DType::f32, Device::cpu());
  init_pytorch_default(a, 7);
  double bound = 1.0 / std::sqrt(27.0);
  double maxabs = 0;
  for (double v : w.to_vector())
    maxabs = std::max(maxabs, std::abs(v));
  EXPECT_LE(maxabs, bound);
  EXPECT_GT(maxabs, 0.8 * bound);  // 216 draws reach close to the bound
  for (double v : b.to_vector())
    EXPECT_LE(std::abs(v), bound);
  for (double v : g.to_vector())
    EXPECT_EQ(v, 1.0);
  for (double v : be.to_vector())
    EXPECT_EQ(v, 0.0);
  for (double v : rv.to_vector())
    EXPECT_EQ(v, 1.0);
  std::vector<double> first = a.params().to_vector();
  init_pytorch_default(a, 7);
  EXPECT_EQ(a.params().to_vector(), first);
  init_pytorch_default(a, 8);
  EXPECT_NE(a.params().to_vector(), first);
}

}  // namespace nsal
