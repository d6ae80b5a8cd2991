#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "al/training.h"
#include "data/loader.h"
#include "data/synth.h"
#include "nn/models/registry.h"
#include "tests/layer_test_util.h"

namespace nsal::al {

namespace {

using nsal::testing::expect_error_mentions;

data::SynthOptions small_images() {
  data::SynthOptions o;
  o.train = 240;
  o.test = 80;
  o.classes = 4;
  o.size = 28;
  o.noise = 0.2;
  o.seed = 3;
  return o;
}

struct Trained {
  std::unique_ptr<Model> model;
  std::vector<EpochStats> stats;
  EvalResult eval;
};

Trained train_cnn(const data::Dataset& train, const data::Dataset& test, uint64_t seed) {
  Context ctx;
  Trained t;
  t.model = make_model({"mnist-cnn", 1, train.num_classes});
  t.model->build(Device::cpu(), seed);
  TrainConfig cfg;
  cfg.epochs = 3;
  cfg.batch_size = 32;
  cfg.lr = 0.05;
  cfg.augment = true;
  Progress quiet(true);
  t.stats = train_model(*t.model, ctx, train, data::all_indices(train.size()), cfg, seed, quiet);
  t.eval = evaluate(*t.model, ctx, test, 64);
  return t;
}
}  // namespace

TEST(Training, MnistCnnLearnsSyntheticImages) {
  data::Dataset train = data::synth_images(small_images(), "train");
  data::Dataset test = data::synth_images(small_images(), "test");
  data::compute_normalisation(train, train.x);
  test.mean = train.mean;
  test.std = train.std;
  Trained t = train_cnn(train, test, 1);
  ASSERT_EQ(t.stats.size(), 3u);
  EXPECT_LT(t.stats.back().loss, t.stats.front().loss);
  EXPECT_EQ(t.eval.metric, "accuracy");
  EXPECT_GT(t.eval.value, 0.6);  // chance is 0.25
}

TEST(Training, TwoIdenticalRunsGiveBitIdenticalWeights) {
  data::Dataset train = data::synth_images(small_images(), "train");
  data::Dataset test = data::synth_images(small_images(), "test");
  data::compute_normalisation(train, train.x);
  test.mean = train.mean;
  test.std = train.std;
  Trained a = train_cnn(train, test, 9);
  Trained b = train_cnn(train, test, 9);
  EXPECT_EQ(a.model->arena().params().to_vector(), b.model->arena().params().to_vector());
  EXPECT_EQ(a.model->arena().buffers().to_vector(), b.model->arena().buffers().to_vector());
  EXPECT_EQ(a.eval.value, b.eval.value);
  Trained c = train_cnn(train, test, 10);
  EXPECT_NE(a.model->arena().params().to_vector(), c.model->arena().params().to_vector());
}

TEST(Training, EmptyLabelledSetIsAClearError) {
  data::Dataset train = data::synth_images(small_images(), "train");
  Context ctx;
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 0);
  Progress quiet(true);
  expect_error_mentions([&] { train_model(*m, ctx, train, {}, TrainConfig{}, 0, quiet); },
                        {"labelled set is empty"});
}

// mnist-cnn keeps these layer outputs per 28x28 sample at inference: conv1 (32x24x24), pool1 and
// relu1 (32x12x12), conv2 (64x8x8), pool2, relu2 and flatten (64x4x4), fc1 and relu3 (128), fc2
// (classes): float32. Its dropouts are passed over in eval mode and keep no output.
TEST(Training, InferenceBatchesFitTheActivationBudget) {
  data::Dataset d = data::synth_images(small_images(), "test");
  Context ctx;
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 0);
  const size_t per_sample =
      4 * (32 * 24 * 24 + 2 * 32 * 12 * 12 + 64 * 8 * 8 + 3 * 64 * 4 * 4 + 2 * 128 + 4);
  EXPECT_EQ(inference_batch(*m, ctx, d, 0, 512, 3 * per_sample), 3);
  EXPECT_EQ(inference_batch(*m, ctx, d, 0, 512, 3 * per_sample - 1), 2);
  EXPECT_EQ(inference_batch(*m, ctx, d, 0, 512, 10), 1);  // never below one
  EXPECT_EQ(inference_batch(*m, ctx, d, 0, 2, 3 * per_sample), 2);
  EXPECT_EQ(inference_batch(*m, ctx, d, 0, 512), 512);  // the default budget holds 512 of these
  // A capped batch gives the same evaluation: the same predictions, and a loss equal up to the
  // float rounding of GEMMs blocked differently for other batch sizes (1e-6 relative).
  EvalResult whole = evaluate(*m, ctx, d, 512), small = evaluate(*m, ctx, d, 3);
  EXPECT_EQ(whole.value, small.value);
  EXPECT_NEAR(whole.loss, small.loss, 1e-6 * std::max(1.0, whole.loss));
}

// MC-dropout outputs of a sample follow its dataset index: the same whatever the other samples of
// the pool, their order and the batch size (up to the float rounding of GEMMs blocked for other
// batch sizes, 1e-5 relative; a different mask moves an output by far more, as another pass
// shows).
TEST(Training, McDropoutOutputsDependOnTheSampleNotThePool) {
  data::Dataset d = data::synth_images(small_images(), "test");
  Context ctx;
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 2);
  auto outputs = [&](const std::vector<int64_t>& pool, int batch, int64_t pass) {
    std::map<int64_t, std::vector<double>> by_index;
    m->set_mc_dropout(true);
    m->set_mc_pass(pass);
    run_inference(*m, ctx, d, pool, batch, [&](int64_t first, int64_t count, const Tensor& o) {
      const std::vector<double> v = o.to_vector();
      const int64_t per = o.numel() / count;
      for (int64_t r = 0; r < count; ++r)
        by_index[pool[static_cast<size_t>(first + r)]] =
            std::vector<double>(v.begin() + r * per, v.begin() + (r + 1) * per);
    });
    m->set_mc_dropout(false);
    return by_index;
  };
  auto close = [](const std::vector<double>& a, const std::vector<double>& b, double tol) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!(std::abs(a[i] - b[i]) <= tol * (1.0 + std::abs(a[i])))) return false;
    return true;
  };
  const auto a = outputs({10, 3, 57, 21}, 2, 1);
  const auto b = outputs({57, 79, 10, 5, 3, 21, 8}, 3, 1);
  const auto other_pass = outputs({10, 3, 57, 21}, 2, 2);
  int moved = 0;
  for (int64_t i : {10, 3, 57, 21}) {
    EXPECT_TRUE(close(a.at(i), b.at(i), 1e-5)) << "sample " << i;
    moved += !close(a.at(i), other_pass.at(i), 1e-3);
  }
  EXPECT_GE(moved, 3) << "another pass draws other masks";
}

}  // namespace nsal::al
