// Noise-stability scoring end to end on real models: the paper's theorem (Eq. 5), restore
// exactness after scoring, independence from batch size and pool order, the presets' noise
// placement, and the released preset against a straightforward implementation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "al/noise_stability.h"
#include "al/strategy.h"
#include "data/loader.h"
#include "data/synth.h"
#include "kernels/noise.h"
#include "kernels/select.h"
#include "nn/layers/activation.h"
#include "nn/layers/linear.h"
#include "nn/models/registry.h"
#include "tests/layer_test_util.h"
#include "tests/tensor_bytes.h"

namespace nsal::al {

namespace {

using nsal::testing::expect_error_mentions;

// A small MLP (8 -> 16 -> 16 -> 3) for the theorem check.
class TinyMlp : public Model {
 public:
  TinyMlp() : Model("tiny-mlp") {
    Layer* fc1 = add<Linear>("fc1", 8, 16);
    fc1->set_needs_input_grad(false);
    body_.push(fc1);
    body_.push(add<ReLU>("relu1"));
    body_.push(add<Linear>("fc2", 16, 16));
    body_.push(add<ReLU>("relu2"));
    body_.push(add<Linear>("fc3", 16, 3));
  }
  Shape input_shape() const override { return {8}; }
  int64_t num_outputs() const override { return 3; }

 protected:
  const Tensor& forward_impl(Context& ctx, const Tensor& x) override {
    check_input(ctx, x);
    return body_.forward(ctx, x);
  }
  void backward_impl(Context& ctx, const Tensor& d) override { body_.backward(ctx, d); }

 public:
  const Tensor& features() const override { return body_.layers()[3]->output(); }

 private:
  Sequential body_;
};

// TinyMlp whose forward fails on its n-th call: a pass that breaks in the middle of a draw.
class FailingTinyMlp : public TinyMlp {
 public:
  explicit FailingTinyMlp(int fail_at) : fail_at_(fail_at) {}

 protected:
  const Tensor& forward_impl(Context& ctx, const Tensor& x) override {
    if (++calls_ == fail_at_) throw Error("the pass failed here");
    return TinyMlp::forward_impl(ctx, x);
  }

 private:
  int calls_ = 0, fail_at_;
};

// Squared Frobenius norm of the per-sample Jacobian of the outputs w.r.t. all parameters, by
// one backward per output, for each sample of `pool` (inputs as the scorer's loader sees them).
std::vector<double> jacobian_sq_norms(Model& m, const data::Dataset& d,
                                      const std::vector<int64_t>& pool) {
  Context ctx;
  data::LoaderOptions lo;
  lo.batch_size = 1;
  lo.shuffle = false;
  data::Loader loader(d, pool, lo);
  std::vector<double> out;
  data::Batch b;
  m.set_training(false);
  while (loader.next(b)) {
    const Tensor& y = m.forward(ctx, b.x);
    int64_t c = y.numel();
    double total = 0;
    for (int64_t j = 0; j < c; ++j) {
      m.forward(ctx, b.x);
      Tensor e = Tensor::zeros(y.shape());
      e.data<float>()[j] = 1.0f;
      m.arena().zero_grad();
      m.backward(ctx, e);
      for (double g : m.arena().grads().to_vector())
        total += g * g;
    }
    out.push_back(total);
  }
  return out;
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size(); ++i)
    r[idx[i]] = static_cast<double>(i);
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ra = ranks(a), rb = ranks(b);
  double n = static_cast<double>(a.size()), d2 = 0;
  for (size_t i = 0; i < a.size(); ++i)
    d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return 1 - 6 * d2 / (n * (n * n - 1));
}

// R(x) against xi^2 sigma^2 ||J||_F^2 for both magnitude modes.
void check_theorem(Model& m, const data::Dataset& d, int draws, double rel_tol) {
  Context ctx;
  std::vector<int64_t> pool(12);
  std::iota(pool.begin(), pool.end(), 0);
  std::vector<double> jac = jacobian_sq_norms(m, d, pool);
  double theta_sq = 0;
  for (const ParamInfo& p : m.arena().param_infos())
    for (int64_t i = 0; i < p.numel; ++i) {
      double w = m.arena().params().data<float>()[p.offset + i];
      theta_sq += w * w;
    }
  const double lambda = 1e-3;
  const double P = static_cast<double>(m.arena().num_params());
  for (const char* magnitude : {"constant", "adaptive"}) {
    NoiseStabilityConfig cfg;
    cfg.draws = draws;
    cfg.lambda = lambda;
    cfg.magnitude = magnitude;
    cfg.output = "logits";
    NoiseStabilityResult r = noise_stability_scores(m, ctx, d, pool, cfg, 5, 42);
    // constant: xi = lambda, sigma = 1. adaptive (paper): xi = lambda ||theta|| / ||dtheta||
    // with ||dtheta||^2 ~ P sigma^2 for large P.
    double xi2 =
        std::string(magnitude) == "constant" ? lambda * lambda : lambda * lambda * theta_sq / P;
    std::vector<double> predicted, measured;
    for (size_t i = 0; i < pool.size(); ++i) {
      predicted.push_back(xi2 * jac[i]);
      measured.push_back(r.scores[i]);
      EXPECT_NEAR(measured[i] / predicted[i], 1.0, rel_tol)
          << magnitude << " sample " << i << ": R(x) " << measured[i] << " vs xi^2 ||J||^2 "
          << predicted[i];
    }
    EXPECT_GE(spearman(measured, predicted), 0.95) << magnitude;
  }
}

data::SynthOptions synth(int64_t n, int size) {
  data::SynthOptions o;
  o.train = n;
  o.test = 4;
  o.size = size;
  o.seed = 5;
  return o;
}

}  // namespace

// Relative tolerance: the Monte-Carlo estimate of E||J z||^2 over K Gaussian draws has relative
// standard deviation at most sqrt(2 / K) (2.6% at K = 3000, 5% at K = 800); the tolerances leave
// room for the
// first-order (Taylor) error at lambda = 1e-3 and for xi's fluctuation in adaptive mode.
TEST(NoiseStabilityTheory, MlpScoreMatchesJacobianNorm) {
  data::Dataset d = data::synth_regression(synth(40, 16), "train");
  TinyMlp m;
  m.build(Device::cpu(), 3);
  check_theorem(m, d, 3000, 0.10);
}

TEST(NoiseStabilityTheory, CnnScoreMatchesJacobianNorm) {
  data::Dataset d = data::synth_images(synth(40, 28), "train");
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 3);
  check_theorem(*m, d, 800, 0.15);
}

TEST(NoiseStability, WeightsAreBitIdenticalAfterScoring) {
  data::Dataset d = data::synth_images(synth(30, 28), "train");
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 1);
  const std::vector<uint8_t> before = testing::bytes_of(m->arena().params());
  Context ctx;
  std::vector<int64_t> pool = data::all_indices(30);
  for (const char* preset : {"paper", "released"}) {
    NoiseStabilityConfig cfg;
    cfg.preset = preset;
    cfg.draws = 7;
    cfg.lambda = 0.05;
    noise_stability_scores(*m, ctx, d, pool, cfg, 8, 11);
    EXPECT_EQ(testing::bytes_of(m->arena().params()), before) << preset;
  }
}

// A draw that ends by an exception (a pass failed mid-way, whether in the first or a later draw)
// leaves the weights as they were, bit for bit.
TEST(NoiseStability, AFailedPassLeavesTheWeightsUnperturbed) {
  data::Dataset d = data::synth_regression(synth(30, 16), "train");
  const std::vector<int64_t> pool = data::all_indices(30);
  for (int fail_at : {6, 15}) {  // 4 batches of 8 per pass: the first and the third draw
    FailingTinyMlp m(fail_at);
    m.build(Device::cpu(), 2);
    const std::vector<uint8_t> before = testing::bytes_of(m.arena().params());
    Context ctx;
    NoiseStabilityConfig cfg;
    cfg.draws = 5;
    cfg.lambda = 0.1;
    try {
      noise_stability_scores(m, ctx, d, pool, cfg, 8, 3);
      ADD_FAILURE() << "no error at call " << fail_at;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("the pass failed here"), std::string::npos) << e.what();
    }
    EXPECT_EQ(testing::bytes_of(m.arena().params()), before) << "failed at call " << fail_at;
  }
}

// The fused inference path is a GPU option: on the CPU the passes stay on the layer path (under
// the inference memory plan) unless the caller turned the model's fused path on itself,
// cfg.fused = false keeps the layer path in any case, and the model's option is left as it was.
TEST(NoiseStability, FusedPassesAreAGpuOptionAndTheModelKeepsItsSetting) {
  data::SynthOptions o = synth(4, 32);
  o.channels = 3;
  data::Dataset d = data::synth_images(o, "train");
  auto m = make_model({"resnet18-cifar", 3, 4});
  m->build(Device::cpu(), 1);
  Context ctx;
  NoiseStabilityConfig cfg;
  cfg.draws = 1;
  ASSERT_TRUE(cfg.fused);
  const std::vector<int64_t> pool = data::all_indices(4);
  EXPECT_EQ(noise_stability_scores(*m, ctx, d, pool, cfg, 4, 1).timing.passes, "layers");
  EXPECT_FALSE(m->fused_inference());
  m->set_fused_inference(true);
  EXPECT_EQ(noise_stability_scores(*m, ctx, d, pool, cfg, 4, 1).timing.passes, "fused");
  ctx.set_math_mode(MathMode::bf16);
  EXPECT_EQ(noise_stability_scores(*m, ctx, d, pool, cfg, 4, 1).timing.passes, "fused bf16");
  EXPECT_TRUE(m->fused_inference());
  cfg.fused = false;  // wins over the model's option, which is put back
  EXPECT_EQ(noise_stability_scores(*m, ctx, d, pool, cfg, 4, 1).timing.passes, "layers");
  EXPECT_TRUE(m->fused_inference());
}

TEST(NoiseStability, ScoreDoesNotDependOnBatchSizeOrPoolOrder) {
  data::Dataset d = data::synth_images(synth(30, 28), "train");
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 2);
  Context ctx;
  std::vector<int64_t> pool = data::all_indices(30);
  NoiseStabilityConfig cfg;
  cfg.draws = 5;
  NoiseStabilityResult a = noise_stability_scores(*m, ctx, d, pool, cfg, 30, 9);
  NoiseStabilityResult b = noise_stability_scores(*m, ctx, d, pool, cfg, 7, 9);
  std::vector<int64_t> reversed(pool.rbegin(), pool.rend());
  NoiseStabilityResult c = noise_stability_scores(*m, ctx, d, reversed, cfg, 4, 9);
  // Not bit-equal: OpenBLAS picks its kernels by matrix shape, so a sample's outputs round
  // differently (about 1e-7 relative) in a batch of another size or company; the deviation is
  // about lambda = 1e-3 of the output, so the score moves by about 1e-4 relative.
  for (size_t i = 0; i < pool.size(); ++i) {
    EXPECT_NEAR(b.scores[i] / a.scores[i], 1.0, 2e-3) << i;
    EXPECT_NEAR(c.scores[pool.size() - 1 - i] / a.scores[i], 1.0, 2e-3) << i;
  }
  // The same batches in the same order give the same bits.
  NoiseStabilityResult again = noise_stability_scores(*m, ctx, d, pool, cfg, 30, 9);
  EXPECT_EQ(again.scores, a.scores);
}

// A sample whose outputs are NaN scores NaN, is counted once (whatever the number of draws), and
// is never among the selected.
TEST(NoiseStability, NonFiniteSamplesScoreNaNAreCountedOnceAndNeverSelected) {
  data::Dataset d = data::synth_images(synth(12, 28), "train");
  ASSERT_EQ(d.x.dtype(), DType::f32);
  // The loader refuses non-finite inputs; values near the float maximum overflow inside the
  // network (inf - inf: NaN outputs).
  for (int64_t i = 0; i < 28 * 28; ++i)
    d.x.data<float>()[5 * 28 * 28 + i] = (i % 2 ? 1 : -1) * 3e38f;
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 5);
  Context ctx;
  NoiseStabilityConfig cfg;
  cfg.draws = 4;
  NoiseStabilityResult r = noise_stability_scores(*m, ctx, d, data::all_indices(12), cfg, 5, 2);
  EXPECT_EQ(r.nonfinite, 1);
  for (size_t i = 0; i < 12; ++i)
    EXPECT_EQ(std::isnan(r.scores[i]), i == 5) << i;
  std::vector<int64_t> top(12, -1);
  const int64_t m_top = kernels::top_n(r.scores.data(), 12, 12, top.data());
  top.resize(static_cast<size_t>(m_top));
  EXPECT_EQ(m_top, 11);
  EXPECT_EQ(std::count(top.begin(), top.end(), 5), 0);
}

TEST(NoiseStability, PresetsPlaceNoiseOnTheRightTensors) {
  auto m = make_model({"resnet18-cifar", 3, 10});
  m->build(Device::cpu(), 0);
  NoiseStabilityConfig paper, released;
  released.preset = "released";
  EXPECT_EQ(noise_segments(m->arena(), paper).size(), 62u);
  // Released: conv weights (20), BN gammas (20), the linear weight (1); no biases or betas.
  EXPECT_EQ(noise_segments(m->arena(), released).size(), 41u);
  NoiseStabilityConfig layer4;
  layer4.groups = {"layer4"};
  int64_t n = 0;
  for (const auto& s : noise_segments(m->arena(), layer4))
    n += s.numel;
  EXPECT_EQ(n, 8393728);  // layer4's parameters
  NoiseStabilityConfig bogus;
  bogus.groups = {"layer9"};
  expect_error_mentions([&] { noise_segments(m->arena(), bogus); },
                        {"unknown layer group", "layer9"});
}

namespace {

// Softmax outputs (N, C) in double of a plain eval forward of the whole pool as one batch.
std::vector<double> pool_probs(Model& m, const data::Dataset& d, const std::vector<int64_t>& pool) {
  Context ctx;
  data::LoaderOptions lo;
  lo.batch_size = static_cast<int>(pool.size());
  lo.shuffle = false;
  data::Loader loader(d, pool, lo);
  data::Batch b;
  EXPECT_TRUE(loader.next(b));
  m.set_training(false);
  const std::vector<double> logits = m.forward(ctx, b.x).to_vector();
  const size_t c = logits.size() / pool.size();
  std::vector<double> p(logits.size());
  for (size_t i = 0; i < pool.size(); ++i) {
    double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < c; ++j)
      mx = std::max(mx, logits[i * c + j]);
    for (size_t j = 0; j < c; ++j)
      sum += p[i * c + j] = std::exp(logits[i * c + j] - mx);
    for (size_t j = 0; j < c; ++j)
      p[i * c + j] /= sum;
  }
  return p;
}

}  // namespace

// The released preset against a straightforward implementation given the same noise: per draw a
// fresh copy of the trained weights, each module weight (conv and linear weights, BatchNorm
// gammas) plus z * lambda ||w_t|| / ||z_t|| with z the stream's values at the tensor's arena
// positions, a plain forward of the pool, the blocks (f_k - f) / ||f|| side by side, and greedy
// k-center from the origin written out here.
TEST(NoiseStability, ReleasedPresetEqualsAModelCopyPerDraw) {
  data::Dataset d = data::synth_images(synth(24, 28), "train");
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 8);
  const std::vector<int64_t> pool = data::all_indices(24);
  StrategyConfig sc;
  sc.name = "noise-stability";
  sc.ns.preset = "released";
  sc.ns.draws = 3;
  sc.ns.lambda = 0.05;
  const uint64_t seed = 11;
  const int64_t budget = 6, draws = 3, c = 4, n = 24;

  // The straightforward version.
  float* params = m->arena().params().data<float>();
  const int64_t numel = m->arena().params().numel();
  const std::vector<float> trained(params, params + numel);
  const std::vector<double> clean = pool_probs(*m, d, pool);
  std::vector<double> vec(static_cast<size_t>(n * c * draws));
  for (int64_t k = 0; k < draws; ++k) {
    std::vector<float> w = trained;  // the copy of the model for this draw
    for (const kernels::NoiseSegment& s : noise_segments(m->arena(), sc.ns)) {
      double w_sq = 0, z_sq = 0;
      for (int64_t i = s.offset; i < s.offset + s.numel; ++i) {
        const double z = kernels::noise_at(seed, k, i, kernels::NoiseDist::gaussian);
        w_sq += double{trained[i]} * trained[i];
        z_sq += z * z;
      }
      const float scale = static_cast<float>(sc.ns.lambda * std::sqrt(w_sq) / std::sqrt(z_sq));
      for (int64_t i = s.offset; i < s.offset + s.numel; ++i)
        w[i] = trained[i] + scale * kernels::noise_at(seed, k, i, kernels::NoiseDist::gaussian);
    }
    std::copy(w.begin(), w.end(), params);
    const std::vector<double> pert = pool_probs(*m, d, pool);
    for (int64_t i = 0; i < n; ++i) {
      double norm = 0;
      for (int64_t j = 0; j < c; ++j)
        norm += clean[i * c + j] * clean[i * c + j];
      for (int64_t j = 0; j < c; ++j)
        vec[i * c * draws + k * c + j] = (pert[i * c + j] - clean[i * c + j]) / std::sqrt(norm);
    }
  }
  std::copy(trained.begin(), trained.end(), params);
  std::vector<double> dist(static_cast<size_t>(n));  // k-center from the origin
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c * draws; ++j)
      dist[i] += vec[i * c * draws + j] * vec[i * c * draws + j];
  std::vector<int64_t> want;
  for (int64_t b = 0; b < budget; ++b) {
    const int64_t pick = std::max_element(dist.begin(), dist.end()) - dist.begin();
    want.push_back(pick);
    for (int64_t i = 0; i < n; ++i) {
      double d2 = 0;
      for (int64_t j = 0; j < c * draws; ++j)
        d2 += std::pow(vec[i * c * draws + j] - vec[pick * c * draws + j], 2);
      dist[i] = std::min(dist[i], d2);
    }
  }

  // nsal: the vectors, and the strategy's selection.
  Context ctx;
  NoiseStabilityResult r = noise_stability_scores(*m, ctx, d, pool, sc.ns, 5, seed);
  ASSERT_EQ(r.vectors.shape(), (Shape{n, c * draws}));
  const std::vector<double> got = r.vectors.to_vector();
  double largest = 0;
  for (size_t i = 0; i < vec.size(); ++i) {
    largest = std::max(largest, std::abs(vec[i]));
    // Float outputs of the two forwards, and the norms summed in other orders.
    ASSERT_NEAR(got[i], vec[i], 1e-7 + 1e-3 * std::abs(vec[i])) << "element " << i;
  }
  EXPECT_GT(largest, 1e-3) << "the noise must move the outputs for this test to mean anything";
  std::vector<int64_t> labelled;
  AcquisitionInput in{*m, ctx, d, labelled, pool, budget, 5, seed};
  EXPECT_EQ(make_strategy(sc)->acquire(in).selected, want);
  EXPECT_EQ(std::vector<float>(params, params + numel), trained);
}

}  // namespace nsal::al
