#include <gtest/gtest.h>

#include "al/training.h"
#include "data/loader.h"
#include "data/synth.h"
#include "nn/models/registry.h"

namespace nsal::al {

namespace {
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
  EXPECT_THROW(train_model(*m, ctx, train, {}, TrainConfig{}, 0, quiet), Error);
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

}  // namespace nsal::al
