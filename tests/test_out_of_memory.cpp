// Running out of memory: the error names what was being allocated, and where a batch can shrink
// (evaluation, inference, noise-stability scoring) it shrinks and the work goes on with the same
// results. Memory exhaustion is simulated with the allocation limit of kernels/memory.h, which
// fails every larger allocation, host or device, the way a full device does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "al/noise_stability.h"
#include "al/training.h"
#include "data/loader.h"
#include "data/synth.h"
#include "kernels/error.h"
#include "kernels/memory.h"
#include "nn/models/registry.h"
#include "tests/tensor_bytes.h"

namespace nsal::al {
namespace {

// Sets the allocation limit for one scope and always lifts it again.
class AllocationLimit {
 public:
  explicit AllocationLimit(size_t bytes) { kernels::set_allocation_limit(bytes); }
  ~AllocationLimit() { kernels::set_allocation_limit(0); }
  AllocationLimit(const AllocationLimit&) = delete;
  AllocationLimit& operator=(const AllocationLimit&) = delete;
};

data::Dataset images(int64_t n) {
  data::SynthOptions o;
  o.train = n;
  o.test = n;
  o.classes = 4;
  o.size = 28;
  o.noise = 0.2;
  o.seed = 5;
  return data::synth_images(o, "test");
}

// mnist-cnn for the 4 classes of images(), the same weights in every test.
std::unique_ptr<Model> small_model() {
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 3);
  return m;
}

// mnist-cnn's largest layer output is conv1's: 32 x 24 x 24 floats = 72 KiB per sample, so a
// 1 MiB limit admits batches of at most 14 samples.
constexpr size_t kLimit = size_t(1) << 20;

TEST(OutOfMemory, AllocationsAboveTheLimitFailNamingWhat) {
  AllocationLimit limit(1000);
  try {
    Tensor t({1000}, DType::f32, Device::cpu(), "a test tensor");
    FAIL() << "a 4000-byte tensor was allocated under a 1000-byte limit";
  } catch (const OutOfMemoryError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("out of host memory allocating a test tensor"), std::string::npos) << msg;
    EXPECT_NE(msg.find("allocation limit 1000 bytes"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(Tensor({250}, DType::f32, Device::cpu(), "small"));
}

TEST(OutOfMemory, EvaluationShrinksTheBatchAndGivesTheSameResult) {
  data::Dataset d = images(40);
  auto m = small_model();
  Context ctx;
  const EvalResult whole = evaluate(*m, ctx, d, 8);  // fits the limit as it is
  EvalResult shrunk;
  {
    AllocationLimit limit(kLimit);
    EXPECT_THROW(Tensor({40, 32, 24, 24}, DType::f32, Device::cpu(), "check"), OutOfMemoryError)
        << "the limit must bite at batch 40 for this test to mean anything";
    shrunk = evaluate(*m, ctx, d, 40);
  }
  EXPECT_EQ(shrunk.samples, whole.samples);
  EXPECT_EQ(shrunk.value, whole.value);
  EXPECT_NEAR(shrunk.loss, whole.loss, 1e-6 * whole.loss);
}

TEST(OutOfMemory, InferenceReportsTheBatchItEndedWith) {
  data::Dataset d = images(40);
  auto m = small_model();
  Context ctx;
  std::vector<int64_t> all = data::all_indices(40);
  std::vector<int64_t> seen;
  int64_t ended = 0;
  {
    AllocationLimit limit(kLimit);
    ended = run_inference(*m, ctx, d, all, 40, [&](int64_t first, int64_t count, const Tensor& o) {
      EXPECT_EQ(o.dim(0), count);
      for (int64_t i = 0; i < count; ++i)
        seen.push_back(first + i);
    });
  }
  EXPECT_EQ(seen, all) << "every sample once, in order";
  EXPECT_LE(ended, 14);
  EXPECT_GE(ended, 1);
}

// Memory that the caller's callback fails to get is not the batch's: the error reaches the
// caller at once, naming the caller's buffer, and the batch is not shrunk for it.
TEST(OutOfMemory, ACallersOwnAllocationFailsWithoutShrinkingTheBatch) {
  data::Dataset d = images(40);
  auto m = small_model();
  Context ctx;
  std::vector<int64_t> all = data::all_indices(40);
  int calls = 0;
  AllocationLimit limit(kLimit);
  try {
    run_inference(*m, ctx, d, all, 8, [&](int64_t, int64_t, const Tensor&) {
      ++calls;
      Tensor cache({1 << 20}, DType::f32, Device::cpu(), "the caller's cache");
    });
    FAIL() << "no error for a 4 MiB cache under a 1 MiB limit";
  } catch (const OutOfMemoryError& e) {
    EXPECT_NE(std::string(e.what()).find("the caller's cache"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls, 1) << "the first batch's callback failed; nothing was retried";
}

// Running out of memory while the training plan is being recorded (here: copying the gradients
// to put them back afterwards) is not a property of the input shape: the next training forward
// with room records the plan.
TEST(OutOfMemory, TrainingPlanIsRecordedOnceThereIsRoom) {
  auto m = small_model();  // 0.7 MiB of parameters, so as many bytes of gradients
  m->set_training(true);
  Context ctx;
  Tensor x({2, 1, 28, 28});
  {
    AllocationLimit limit(size_t(1) << 19);
    EXPECT_THROW(m->forward(ctx, x), OutOfMemoryError);
  }
  EXPECT_EQ(m->training_bytes_per_sample(), 0u);
  m->forward(ctx, x);
  EXPECT_GT(m->training_bytes_per_sample(), 0u) << "the failed attempt kept the plan away";
}

// MC dropout: each sample's masks follow its position in the pool and the pass, so batches of
// another size (asked for, or shrunk when memory runs out) give the same outputs up to the
// rounding of other batch sizes; another pass gives other outputs.
TEST(OutOfMemory, McDropoutOutputsDoNotDependOnTheBatch) {
  data::Dataset d = images(40);
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 6);
  Context ctx;
  std::vector<int64_t> all = data::all_indices(40);
  int64_t ended = 0;  // the batch the last call ended with
  auto outputs = [&](int batch, int64_t pass) {
    std::vector<float> out;
    m->set_mc_dropout(true);
    m->set_mc_pass(pass);
    ended =
        run_inference(*m, ctx, d, all, batch, [&](int64_t first, int64_t count, const Tensor& o) {
          EXPECT_EQ(first, static_cast<int64_t>(out.size()) / 4);
          out.insert(out.end(), o.data<float>(), o.data<float>() + count * 4);
        });
    m->set_mc_dropout(false);
    return out;
  };
  // First, while no layer output of 40 samples exists yet: under the limit the batch halves.
  std::vector<float> shrunk;
  {
    AllocationLimit limit(kLimit);
    shrunk = outputs(40, 1);
  }
  EXPECT_LT(ended, 40) << "the limit must shrink the batch for this case to mean anything";
  const std::vector<float> whole = outputs(40, 1), other_pass = outputs(40, 2);
  EXPECT_EQ(ended, 40);
  for (const std::vector<float>& got : {outputs(3, 1), outputs(16, 1), shrunk}) {
    ASSERT_EQ(got.size(), whole.size());
    for (size_t i = 0; i < whole.size(); ++i)
      ASSERT_NEAR(got[i], whole[i], 1e-5 + 1e-5 * std::abs(whole[i])) << "output " << i;
  }
  double moved = 0;
  for (size_t i = 0; i < whole.size(); ++i)
    moved = std::max(moved, static_cast<double>(std::abs(other_pass[i] - whole[i])));
  EXPECT_GT(moved, 1e-3) << "another pass must draw other masks";
}

TEST(OutOfMemory, NoiseStabilityScoringShrinksTheBatchAndRestoresTheWeights) {
  data::Dataset d = images(30);
  auto m = make_model({"mnist-cnn", 1, 4});
  m->build(Device::cpu(), 4);
  const std::vector<uint8_t> before = testing::bytes_of(m->arena().params());
  Context ctx;
  std::vector<int64_t> pool = data::all_indices(30);
  NoiseStabilityConfig cfg;
  cfg.draws = 4;
  const NoiseStabilityResult small = noise_stability_scores(*m, ctx, d, pool, cfg, 8, 9);
  NoiseStabilityResult shrunk;
  {
    AllocationLimit limit(kLimit);
    shrunk = noise_stability_scores(*m, ctx, d, pool, cfg, 30, 9);
  }
  ASSERT_EQ(shrunk.scores.size(), small.scores.size());
  // Batches of another size round the outputs differently (see ScoreDoesNotDependOnBatchSize).
  for (size_t i = 0; i < pool.size(); ++i)
    EXPECT_NEAR(shrunk.scores[i] / small.scores[i], 1.0, 2e-3) << i;
  EXPECT_EQ(testing::bytes_of(m->arena().params()), before);

  // A limit no batch fits: a clear error, and the weights are still the trained ones.
  {
    AllocationLimit limit(16 << 10);
    try {
      noise_stability_scores(*m, ctx, d, pool, cfg, 30, 9);
      FAIL() << "scoring succeeded under a 16 KiB limit";
    } catch (const OutOfMemoryError& e) {
      EXPECT_NE(std::string(e.what()).find("out of host memory allocating"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(testing::bytes_of(m->arena().params()), before);
}

}  // namespace
}  // namespace nsal::al
