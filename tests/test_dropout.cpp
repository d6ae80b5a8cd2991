#include <gtest/gtest.h>

#include <omp.h>

#include "kernels/dropout.h"
#include "nn/layers/dropout.h"
#include "nn/model.h"
#include "nn/models/registry.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

// Dropout whose every forward uses step 7, so that finite differences see one fixed mask.
class FixedMaskDropout : public Dropout {
 public:
  using Dropout::Dropout;

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override {
    set_step(7);
    Dropout::forward_impl(ctx, x, y);
  }
};

TEST(Dropout, MaskIsPhiloxOfSeedStepAndElement) {
  const double p = 0.3;
  const uint64_t seed = 0x1234abcdULL;
  Dropout drop("drop", p, seed);
  drop.set_step(5);
  Context ctx;
  Tensor x(Shape{3, 1001}, DType::f64);
  x.fill(2.0);
  const std::vector<double> y = drop.forward(ctx, x).to_vector();
  EXPECT_EQ(drop.step(), 6u);
  const uint64_t threshold = kernels::dropout_threshold(p);
  EXPECT_EQ(threshold, static_cast<uint64_t>(0.3 * 4294967296.0));
  for (size_t i = 0; i < y.size(); ++i) {
    // Reference: one Philox call per element, word i % 4 of counter (i / 4, step).
    const philox::U32x4 r =
        philox::philox4x32_10(philox::make_counter(i / 4, 5), philox::make_key(seed));
    const bool keep = r.v[i % 4] >= threshold;
    ASSERT_EQ(y[i], keep ? 2.0 / 0.7 : 0.0) << "element " << i;
  }
}

TEST(Dropout, MaskIsReproducibleAndChangesWithStep) {
  Dropout a("d", 0.5, 42), b("d", 0.5, 42);
  Context ctx;
  Tensor x(Shape{64, 64}, DType::f32);
  x.fill(1.0);
  const std::vector<double> a0 = a.forward(ctx, x).to_vector();
  const std::vector<double> a1 = a.forward(ctx, x).to_vector();
  EXPECT_EQ(b.forward(ctx, x).to_vector(), a0) << "same seed and step, same mask";
  EXPECT_NE(a0, a1) << "the step advances every forward";
  b.set_step(1);
  EXPECT_EQ(b.forward(ctx, x).to_vector(), a1) << "set_step() replays a step";
  Dropout c("d", 0.5, 43);
  EXPECT_NE(c.forward(ctx, x).to_vector(), a0) << "another seed, another mask";
}

TEST(Dropout, MeanPreservingWithTheRightKeepRate) {
  for (double p : {0.1, 0.5, 0.8}) {
    Dropout drop("d", p, 7);
    Context ctx;
    Tensor x(Shape{1 << 20}, DType::f32);
    x.fill(1.0);
    const std::vector<double> y = drop.forward(ctx, x).to_vector();
    double sum = 0, kept = 0;
    for (double v : y) {
      sum += v;
      kept += v != 0;
    }
    const double n = static_cast<double>(y.size());
    // Standard error of the kept fraction is sqrt(p (1 - p) / n) < 5e-4; allow 6 of them.
    EXPECT_NEAR(kept / n, 1 - p, 3e-3) << "p = " << p;
    EXPECT_NEAR(sum / n, 1.0, 3e-3 / (1 - p)) << "p = " << p;
  }
}

TEST(Dropout, EvalIsIdentityUnlessMonteCarlo) {
  std::mt19937_64 rng(1);
  Dropout drop("d", 0.5, 3);
  Context ctx;
  Tensor x = testing::random_tensor({8, 16}, rng);
  drop.set_training(false);
  EXPECT_FALSE(drop.active());
  EXPECT_EQ(drop.forward(ctx, x).to_vector(), x.to_vector());
  EXPECT_EQ(drop.step(), 0u) << "an inactive forward does not consume a step";
  drop.set_mc(true);
  EXPECT_TRUE(drop.active());
  const std::vector<double> mc0 = drop.forward(ctx, x).to_vector();
  EXPECT_NE(mc0, x.to_vector());
  EXPECT_EQ(drop.forward(ctx, x).to_vector(), mc0) << "the same pass gives the same masks";
  drop.set_mc_pass(1);
  EXPECT_NE(drop.forward(ctx, x).to_vector(), mc0) << "another pass draws other masks";
  EXPECT_EQ(drop.step(), 0u) << "MC dropout at inference leaves the training step alone";
}

// MC dropout at inference: sample s of the pool at pass t keeps element j exactly when
// Philox(seed, mc_dropout_step(t, s)) says so, whatever batch the sample comes in.
TEST(Dropout, McMasksFollowThePassAndThePositionNotTheBatch) {
  const double p = 0.4;
  const uint64_t seed = 21;
  const int64_t rows = 7, per_row = 15;  // not a multiple of four: each row ends in a short group
  Dropout drop("d", p, seed);
  drop.set_training(false);
  drop.set_mc(true);
  drop.set_mc_pass(3);
  Context ctx;
  Tensor x(Shape{rows, 3, 5}, DType::f64);
  x.fill(1.0);
  drop.set_mc_first_position(100);
  const std::vector<double> whole = drop.forward(ctx, x).to_vector();
  const uint64_t threshold = kernels::dropout_threshold(p);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < per_row; ++j) {
      // The step written out: top bit, pass 3 in bits 40-62, position 100 + r below.
      const uint64_t step = (uint64_t{1} << 63) | (uint64_t{3} << 40) | (100 + r);
      const bool keep =
          kernels::dropout_keep_element(seed, step, static_cast<uint64_t>(j), threshold);
      ASSERT_EQ(whole[r * per_row + j], keep ? 1.0 / (1.0 - p) : 0.0)
          << "row " << r << ", element " << j;
    }
  // The same samples in batches of 3 and 4.
  std::vector<double> pieces;
  for (int64_t first : {int64_t{0}, int64_t{3}}) {
    const int64_t count = first == 0 ? 3 : 4;
    Tensor part(Shape{count, 3, 5}, DType::f64);
    part.fill(1.0);
    drop.set_mc_first_position(100 + first);
    const std::vector<double> y = drop.forward(ctx, part).to_vector();
    pieces.insert(pieces.end(), y.begin(), y.end());
  }
  EXPECT_EQ(pieces, whole);
  // Backward applies the forward's per-sample masks.
  Tensor dy(Shape{4, 3, 5}, DType::f64);
  dy.fill(1.0);
  const std::vector<double> dx = drop.backward(ctx, dy).to_vector();
  EXPECT_EQ(dx, std::vector<double>(whole.begin() + 3 * per_row, whole.end()));
  expect_error_mentions([&] { drop.set_mc_pass(-1); }, {"MC-dropout pass", "got -1"});
  expect_error_mentions([&] { drop.set_mc_first_position(int64_t{1} << 40); },
                        {"sample position", "2^40"});
}

// Row keys (the samples' dataset indices): a row keyed k gets the mask of pool position k, in
// whatever order and company the rows come; the keys serve one forward (and its backward), and
// bad keys are refused naming the layer.
TEST(Dropout, McRowKeysChooseEachRowsMaskWhateverTheOrder) {
  const double p = 0.5;
  Dropout drop("head.drop", p, 5);
  drop.set_training(false);
  drop.set_mc(true);
  drop.set_mc_pass(2);
  Context ctx;
  auto ones = [](int64_t rows) {
    Tensor t(Shape{rows, 9}, DType::f32);
    t.fill(1.0);
    return t;
  };
  auto at_position = [&](int64_t position) {
    drop.set_mc_first_position(position);
    return drop.forward(ctx, ones(1)).to_vector();
  };
  const int64_t keys[3] = {41, 7, 1000000};
  drop.set_mc_row_keys(keys, 3);
  const std::vector<double> keyed = drop.forward(ctx, ones(3)).to_vector();
  for (int r = 0; r < 3; ++r) {
    const std::vector<double> want = at_position(keys[r]);
    EXPECT_EQ(std::vector<double>(keyed.begin() + 9 * r, keyed.begin() + 9 * (r + 1)), want)
        << "key " << keys[r];
  }
  // The same sample 7 alone, and after other rows: the same mask.
  const int64_t alone[1] = {7}, reordered[2] = {1000000, 7};
  drop.set_mc_row_keys(alone, 1);
  EXPECT_EQ(drop.forward(ctx, ones(1)).to_vector(),
            std::vector<double>(keyed.begin() + 9, keyed.begin() + 18));
  drop.set_mc_row_keys(reordered, 2);
  const std::vector<double> two = drop.forward(ctx, ones(2)).to_vector();
  EXPECT_EQ(std::vector<double>(two.begin() + 9, two.end()),
            std::vector<double>(keyed.begin() + 9, keyed.begin() + 18));
  // Backward applies the keyed masks of its forward.
  EXPECT_EQ(drop.backward(ctx, ones(2)).to_vector(), two);
  // The keys were for that forward only: the next one goes back to positions.
  drop.set_mc_first_position(7);
  const std::vector<double> pos7 = drop.forward(ctx, ones(1)).to_vector();
  EXPECT_EQ(drop.forward(ctx, ones(1)).to_vector(), pos7);
  // Keys left pending by a forward that did not use them (training mode, MC off) are dropped
  // with it, not used by a later MC forward.
  const int64_t other[1] = {41};
  drop.set_mc_row_keys(other, 1);
  drop.set_training(true);
  drop.forward(ctx, ones(1));
  drop.set_training(false);
  EXPECT_EQ(drop.forward(ctx, ones(1)).to_vector(), pos7) << "keys kept past a training forward";
  drop.set_mc_row_keys(other, 1);
  drop.set_mc(false);
  drop.set_mc(true);
  EXPECT_EQ(drop.forward(ctx, ones(1)).to_vector(), pos7) << "keys kept past set_mc(false)";
  drop.set_mc_row_keys(keys, 3);
  testing::expect_error_mentions([&] { drop.forward(ctx, ones(2)); },
                                 {"head.drop", "3 row keys", "2 rows"});
  const int64_t negative[1] = {-1};
  testing::expect_error_mentions([&] { drop.set_mc_row_keys(negative, 1); },
                                 {"head.drop", "row key"});
}

// Model::build seeds each dropout layer from the build seed and the layer's place, so two layers
// of a model, or two models built with other seeds, never share a mask stream.
TEST(Dropout, BuildGivesEveryLayerItsOwnSeed) {
  auto seeds_of = [](uint64_t build_seed) {
    auto m = make_model({"mnist-cnn", 1, 10});
    m->build(Device::cpu(), build_seed);
    std::vector<uint64_t> s;
    for (const auto& l : m->layers())
      if (auto* d = dynamic_cast<Dropout*>(l.get())) s.push_back(d->seed());
    return s;
  };
  const std::vector<uint64_t> a = seeds_of(4), b = seeds_of(5);
  ASSERT_EQ(a.size(), 3u);  // conv1_drop, conv2_drop, fc1_drop
  EXPECT_EQ(seeds_of(4), a);
  for (size_t i = 0; i < a.size(); ++i) {
    // Philox4x32-10 of counter (i, "drop") under key 4, written out.
    const auto w = philox::philox4x32_10(philox::make_counter(i, 0x64726f70), philox::make_key(4));
    EXPECT_EQ(a[i], uint64_t{w.v[0]} | (uint64_t{w.v[1]} << 32)) << i;
    EXPECT_NE(a[i], b[i]) << i;
    for (size_t j = 0; j < i; ++j)
      EXPECT_NE(a[i], a[j]) << i << " " << j;
  }
}

TEST(Dropout, BackwardAppliesTheForwardMask) {
  std::mt19937_64 rng(2);
  Dropout drop("d", 0.4, 11);
  Context ctx;
  Tensor x(Shape{5, 37}, DType::f64);
  x.fill(1.0);
  const std::vector<double> y = drop.forward(ctx, x).to_vector();
  Tensor dy = testing::random_tensor({5, 37}, rng);
  const std::vector<double> dx = drop.backward(ctx, dy).to_vector(), g = dy.to_vector();
  for (size_t i = 0; i < y.size(); ++i)
    EXPECT_DOUBLE_EQ(dx[i], g[i] * y[i]) << i;  // y = mask / (1 - p)
}

TEST(Dropout, GradientsMatchFiniteDifferencesForAFixedMask) {
  FixedMaskDropout drop("d", 0.3, 5);
  testing::expect_gradients_match(drop, {4, 25});
}

TEST(Dropout, ExtremeProbabilities) {
  std::mt19937_64 rng(3);
  Context ctx;
  Tensor x = testing::random_tensor({4, 9}, rng);
  Dropout none("d", 0.0, 1), all("d", 1.0, 1);
  EXPECT_EQ(none.forward(ctx, x).to_vector(), x.to_vector());
  EXPECT_EQ(all.forward(ctx, x).to_vector(), std::vector<double>(36, 0.0));
  EXPECT_EQ(all.backward(ctx, x).to_vector(), std::vector<double>(36, 0.0));
}

TEST(Dropout, MaskDoesNotDependOnThreadCount) {
  Tensor x(Shape{256, 1024}, DType::f32);
  x.fill(1.0);
  std::vector<double> y[2];
  const int threads = omp_get_max_threads();
  for (int k = 0; k < 2; ++k) {
    Context ctx;
    ctx.set_threads(k == 0 ? 1 : std::max(2, threads));
    Dropout drop("d", 0.5, 99);
    y[k] = drop.forward(ctx, x).to_vector();
  }
  omp_set_num_threads(threads);
  EXPECT_EQ(y[0], y[1]);
}

TEST(Dropout, RejectsBadOptionsAndInputs) {
  expect_error_mentions([] { Dropout("head.drop", 1.5); }, {"dropout", "head.drop", "[0, 1]"});
  Dropout drop("head.drop", 0.5);
  Context ctx;
  Tensor ints({2, 2}, DType::i32);
  expect_error_mentions([&] { drop.forward(ctx, ints); }, {"head.drop", "int32"});
  Context gpu(Device::cuda(0));
  Tensor x({2, 2});
  expect_error_mentions([&] { drop.forward(gpu, x); }, {"head.drop", "cuda:0"});
}

}  // namespace
}  // namespace nsal

namespace nsal {
TEST(Dropout, EvalModeBackwardIsTheIdentity) {
  Context ctx;
  Dropout d("drop", 0.5, 3);
  d.set_training(false);
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  d.forward(ctx, x);
  Tensor dy = Tensor::from_vector({1, 1, 1, 1, 1, 1, 1, 1}, {2, 4});
  EXPECT_EQ(d.backward(ctx, dy).to_vector(), dy.to_vector());
}

// A Sequential passes an eval-mode Dropout over: no copy, the same tensors in both directions,
// and the layer is called again as soon as it drops (training or MC mode).
TEST(Dropout, SequentialPassesEvalModeDropoutOver) {
  Context ctx;
  Dropout d("drop", 0.5, 3);
  Sequential chain;
  chain.push(&d);
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  Tensor dy = Tensor::from_vector({1, 1, 1, 1, 1, 1, 1, 1}, {2, 4});
  d.set_training(false);
  EXPECT_TRUE(d.is_identity());
  EXPECT_EQ(&chain.forward(ctx, x), &x);
  EXPECT_EQ(&chain.output(), &x);
  EXPECT_EQ(&chain.backward(ctx, dy), &dy);
  EXPECT_FALSE(d.output().defined() && d.output().numel() > 0) << "the layer never ran";
  d.set_mc(true);
  EXPECT_FALSE(d.is_identity());
  const Tensor& y = chain.forward(ctx, x);
  EXPECT_EQ(&y, &d.output());
  EXPECT_NE(y.to_vector(), x.to_vector());
  EXPECT_EQ(d.step(), 0u) << "MC dropout at inference uses per-sample steps";
  const std::vector<double> dx = chain.backward(ctx, dy).to_vector(), xv = x.to_vector(),
                            yv = y.to_vector();
  for (size_t i = 0; i < dx.size(); ++i)
    EXPECT_EQ(dx[i] * xv[i], yv[i]) << "dy = 1: dx is the scaled mask, element " << i;
  d.set_mc(false);
  d.set_training(true);
  EXPECT_NE(&chain.forward(ctx, x), &x);
}
}  // namespace nsal
