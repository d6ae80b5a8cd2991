// The memory plans (nn/memory_plan.h): the offset assignment on hand-made traces; then every
// model: infer() gives forward()'s outputs and features bit for bit, at several batch sizes and
// per-sample shapes, in far less memory; backward() after infer() is refused; training after
// inference is unaffected; the modes that need forward() get it. Training with the training plan
// gives the same outputs, gradients and BatchNorm statistics as without it, step after step,
// and a model that cannot run one sample falls back to its own buffers.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "nn/layers/dropout.h"
#include "nn/memory_plan.h"
#include "nn/model.h"
#include "nn/models/registry.h"
#include "nn/models/resnet_cifar.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;
using testing::fill_uniform;

// A chain a -> b -> c -> d (each op reads the previous output): two buffers take turns.
TEST(MemoryPlan, ChainTakesTurnsBetweenTwoSlices) {
  std::vector<char> mem(4096);
  MemoryPlan plan;
  plan.begin_recording();
  const size_t sizes[] = {256, 512, 128, 512};
  const char* prev = nullptr;
  size_t at = 0;
  for (size_t s : sizes) {
    plan.read(prev);
    plan.wrote(mem.data() + at, s);
    prev = mem.data() + at;
    at += s;
  }
  plan.finish_recording(1, {prev});
  ASSERT_TRUE(plan.planned());
  EXPECT_EQ(plan.outputs(), 4u);
  // The two 512s are live at different times and share; the peak is a and b at op 1.
  EXPECT_EQ(plan.bytes_per_sample(), 768u);

  std::vector<char> arena(plan.bytes_for(3));
  plan.begin_run(3, arena.data());
  std::vector<char*> got;
  for (size_t s : sizes)
    got.push_back(static_cast<char*>(plan.next_output(3 * s)));
  plan.end_run();
  for (size_t i = 0; i + 1 < got.size(); ++i) {  // an op's output never overlaps its input
    const char *a = got[i], *b = got[i + 1];
    EXPECT_TRUE(a + 3 * sizes[i] <= b || b + 3 * sizes[i + 1] <= a) << i;
  }
  for (char* p : got)
    EXPECT_EQ((p - arena.data()) % 64, 0) << "slices start on a cache line";
}

// A residual pattern: x is read again two ops later, so it must survive the ops between.
TEST(MemoryPlan, TensorsReadLaterStayUntouched) {
  std::vector<char> mem(4096);
  MemoryPlan plan;
  plan.begin_recording();
  char* x = mem.data();
  plan.wrote(x, 64);  // op 0: x
  plan.read(x);
  plan.wrote(mem.data() + 64, 64);  // op 1: a = f(x)
  plan.read(mem.data() + 64);
  plan.wrote(mem.data() + 128, 64);  // op 2: b = g(a)
  plan.read(mem.data() + 128);
  plan.read(x + 10);                 // (inside x: still x)
  plan.wrote(mem.data() + 192, 64);  // op 3: y = b + x
  plan.finish_recording(1, {mem.data() + 192});
  std::vector<char> arena(plan.bytes_for(1));
  plan.begin_run(1, arena.data());
  char* px = static_cast<char*>(plan.next_output(64));
  char* pa = static_cast<char*>(plan.next_output(64));
  char* pb = static_cast<char*>(plan.next_output(64));
  char* py = static_cast<char*>(plan.next_output(64));
  plan.end_run();
  EXPECT_NE(px, pa);
  EXPECT_NE(px, pb);
  EXPECT_NE(px, py);
  EXPECT_NE(pb, py);
  EXPECT_NE(pa, pb);
  EXPECT_EQ(plan.bytes_per_sample(), 192u);  // a's slice is free again for y
}

TEST(MemoryPlan, RunsThatLeaveTheRecordedSequenceAreErrors) {
  std::vector<char> mem(256);
  MemoryPlan plan;
  plan.begin_recording();
  plan.wrote(mem.data(), 64);
  plan.read(mem.data());
  plan.wrote(mem.data() + 64, 128);
  plan.finish_recording(1, {mem.data() + 64});
  std::vector<char> arena(plan.bytes_for(2));
  plan.begin_run(2, arena.data());
  expect_error_mentions([&] { plan.next_output(100); },
                        {"buffer 0", "100 bytes", "recorded 128"});  // not 2 x 64
  plan.begin_run(2, arena.data());
  plan.next_output(128);
  expect_error_mentions([&] { plan.end_run(); },
                        {"wrote 1 buffers", "recorded 2"});  // one output short
  EXPECT_EQ(plan.state(), MemoryPlan::State::idle);
}

struct ModelCase {
  ModelSpec spec;
  Shape per_sample;  // -1 dimensions of input_shape() filled in
};

std::vector<ModelCase> model_cases() {
  return {
      {{"mnist-cnn", 1, 10}, {1, 28, 28}},    {{"resnet18-cifar", 3, 10}, {3, 32, 32}},
      {{"resnet18", 3, 7}, {3, 48, 40}},      {{"resnet18-3d", 1, 5}, {1, 32, 32, 32}},
      {{"drn-d-22", 3, 4}, {3, 32, 24}},      {{"mlp", 12, 3}, {12}},
      {{"mobilenet-v2", 3, 10}, {3, 32, 32}},
  };
}

Shape with_batch(int64_t n, const Shape& per_sample) {
  Shape s{n};
  s.insert(s.end(), per_sample.begin(), per_sample.end());
  return s;
}

size_t layer_output_bytes(const Model& m) {
  size_t sum = 0;
  for (const auto& l : m.layers())
    if (l->output().defined()) sum += l->output().nbytes();
  return sum;
}

// Two models of one spec built from one seed: `planned` runs with the memory plans, `plain` is
// the reference; both in eval mode unless `training`.
struct TwinModels {
  std::unique_ptr<Model> planned, plain;
  TwinModels(const ModelSpec& spec, uint64_t seed, DType dtype = DType::f32, bool training = false)
      : planned(make_model(spec)), plain(make_model(spec)) {
    for (Model* m : {planned.get(), plain.get()}) {
      m->build(Device::cpu(), seed, dtype);
      m->set_training(training);
    }
  }
};

TEST(MemoryPlan, EveryModelInfersExactlyWhatForwardComputes) {
  for (const ModelCase& c : model_cases()) {
    SCOPED_TRACE(c.spec.arch);
    TwinModels twins(c.spec, 3);
    Model* planned = twins.planned.get();
    Model* plain = twins.plain.get();
    Context ctx;
    std::mt19937_64 rng(5);
    const bool volumes = c.per_sample.size() == 4;  // keep the 3-D model's batches small
    for (int64_t n : volumes ? std::vector<int64_t>{2, 1, 3} : std::vector<int64_t>{3, 1, 5}) {
      // A new plan, a smaller batch, a larger one (the arena grows).
      Tensor x(with_batch(n, c.per_sample));
      fill_uniform(x, rng);
      const std::vector<double> want = plain->forward(ctx, x).to_vector();
      const std::vector<double> want_features = plain->features().to_vector();
      const std::vector<double> got = planned->infer(ctx, x).to_vector();
      EXPECT_EQ(got, want) << "batch " << n;
      EXPECT_EQ(planned->features().to_vector(), want_features) << "batch " << n;
    }
    // Memory: the plan's arena against the outputs every layer keeps without it.
    const size_t per_sample = planned->inference_bytes_per_sample();
    const size_t unplanned = layer_output_bytes(*plain) / (volumes ? 3 : 5);
    EXPECT_GT(per_sample, 0u);
    EXPECT_LT(per_sample, unplanned) << per_sample << " vs " << unplanned;
    if (c.spec.arch == "resnet18-cifar") {
      EXPECT_LT(4 * per_sample, unplanned) << per_sample << " vs " << unplanned;
    }
  }
}

// The fused inference paths of the resnets (float32 and bf16) run under the plan too: infer()
// equals their forward() bit for bit, in a fraction of the memory of the unit outputs each
// keeps without it, and switching between the layer path and the fused paths records a new plan
// for each switch (their ops write different buffers).
TEST(MemoryPlan, FusedPathsInferExactlyWhatTheirForwardComputes) {
  for (const ModelCase& c : {ModelCase{{"resnet18-cifar", 3, 10}, {3, 32, 32}},
                             ModelCase{{"resnet18-3d", 1, 5}, {1, 32, 32, 32}}}) {
    SCOPED_TRACE(c.spec.arch);
    TwinModels twins(c.spec, 3);
    Model* planned = twins.planned.get();
    Model* plain = twins.plain.get();
    std::mt19937_64 rng(5);
    Tensor x(with_batch(2, c.per_sample));
    fill_uniform(x, rng);
    Context ctx;
    for (int round = 0; round < 2; ++round)  // the second round re-records every path
      for (int path : {1, 0, 2}) {
        SCOPED_TRACE("path " + std::to_string(path) + ", round " + std::to_string(round));
        ctx.set_math_mode(path == 2 ? MathMode::bf16 : MathMode::strict_fp32);
        for (Model* m : {planned, plain})
          m->set_fused_inference(path != 0);
        const std::vector<double> want = plain->forward(ctx, x).to_vector();
        const std::vector<double> want_features = plain->features().to_vector();
        EXPECT_TRUE(planned->infer_uses_plan());
        EXPECT_EQ(planned->infer(ctx, x).to_vector(), want);
        EXPECT_EQ(planned->features().to_vector(), want_features);
        EXPECT_GT(planned->inference_bytes_per_sample(), 0u);
        if (path == 1 && c.spec.arch == "resnet18-cifar") {
          // Unplanned, each of the 20 units keeps its output (2.4 MB per sample): the plan's
          // arena holds a third of that (0.79 MB, measured), at most half is allowed.
          const size_t per_sample = planned->inference_bytes_per_sample();
          size_t unit_outputs = 0;
          for (const ConvBnUnit* u : dynamic_cast<ResNetCifar&>(*plain).units())
            unit_outputs += u->output().nbytes();
          EXPECT_LT(2 * per_sample, unit_outputs / 2) << per_sample << " vs " << unit_outputs / 2;
        }
      }
  }
}

// A new per-sample shape (segmentation: any H, W) records a new plan.
TEST(MemoryPlan, NewInputShapesGetNewPlans) {
  TwinModels twins({"drn-d-22", 3, 3}, 4);
  Model* planned = twins.planned.get();
  Model* plain = twins.plain.get();
  Context ctx;
  std::mt19937_64 rng(6);
  size_t previous = 0;
  for (const Shape& s : {Shape{2, 3, 16, 16}, Shape{2, 3, 24, 40}, Shape{2, 3, 16, 16}}) {
    Tensor x(s);
    fill_uniform(x, rng);
    EXPECT_EQ(planned->infer(ctx, x).to_vector(), plain->forward(ctx, x).to_vector())
        << shape_str(s);
    EXPECT_NE(planned->inference_bytes_per_sample(), previous) << shape_str(s);
    previous = planned->inference_bytes_per_sample();
  }
}

// After infer(), backward() is refused with a message; a later training step runs as if no
// inference had happened.
TEST(MemoryPlan, BackwardAfterInferIsRefusedAndTrainingIsUnaffected) {
  auto a = make_model({"resnet18-cifar", 3, 10});
  auto b = make_model({"resnet18-cifar", 3, 10});
  a->build(Device::cpu(), 8, DType::f64);
  b->build(Device::cpu(), 8, DType::f64);
  Context ctx;
  std::mt19937_64 rng(7);
  Tensor x({2, 3, 32, 32}, DType::f64), r({2, 10}, DType::f64);
  fill_uniform(x, rng);
  fill_uniform(r, rng);
  a->set_training(false);
  const Tensor& y = a->infer(ctx, x);
  Tensor dy(y.shape(), DType::f64);
  try {
    a->backward(ctx, dy);
    ADD_FAILURE() << "no error for backward() after infer()";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Model::infer"), std::string::npos) << e.what();
  }
  for (Model* m : {a.get(), b.get()}) {
    m->set_training(true);
    m->arena().zero_grad();
    m->forward(ctx, x);
    m->backward(ctx, r);
  }
  EXPECT_EQ(a->arena().grads().to_vector(), b->arena().grads().to_vector());
  // Eval mode through forward() keeps every activation, so the Jacobian checks can run backward.
  a->set_training(false);
  a->forward(ctx, x);
  EXPECT_NO_THROW(a->backward(ctx, r));
}

// infer() inside another forward that runs under a plan on the same context (one model's
// inference calling another's) neither takes that plan's slices nor leaves it unset.
TEST(MemoryPlan, NestedInferKeepsToItsOwnPlan) {
  auto m = make_model({"mnist-cnn", 1, 10});
  m->build(Device::cpu(), 10);
  m->set_training(false);
  Context ctx;
  Tensor x({2, 1, 28, 28});
  std::mt19937_64 rng(9);
  fill_uniform(x, rng);
  const std::vector<double> want = m->forward(ctx, x).to_vector();

  std::vector<char> mem(64), arena(64);
  MemoryPlan outer;  // an outer forward with one planned output, not yet taken
  outer.begin_recording();
  outer.wrote(mem.data(), 64);
  outer.finish_recording(1, {mem.data()});
  outer.begin_run(1, arena.data());
  ctx.set_memory_plan(&outer);
  EXPECT_EQ(m->infer(ctx, x).to_vector(), want);
  EXPECT_EQ(ctx.memory_plan(), &outer);
  EXPECT_EQ(outer.next_output(64), arena.data());  // its first slice is still the next one
  outer.end_run();
  ctx.set_memory_plan(nullptr);
}

// Training mode and MC-dropout run forward() itself (their outputs feed backward, or dropout
// masks must stay as forward() draws them); so does a model with the plan switched off.
TEST(MemoryPlan, ModesThatNeedForwardGetForward) {
  auto m = make_model({"mnist-cnn", 1, 10});
  m->build(Device::cpu(), 9);
  Context ctx;
  Tensor x({4, 1, 28, 28});
  std::mt19937_64 rng(8);
  fill_uniform(x, rng);
  m->set_training(true);
  EXPECT_FALSE(m->infer_uses_plan());
  m->set_training(false);
  EXPECT_TRUE(m->infer_uses_plan());
  m->set_mc_dropout(true);
  EXPECT_FALSE(m->infer_uses_plan());
  m->infer(ctx, x);
  EXPECT_EQ(m->inference_bytes_per_sample(), 0u);
  m->set_mc_dropout(false);
  m->set_inference_plan(false);
  EXPECT_FALSE(m->infer_uses_plan());
  m->infer(ctx, x);
  EXPECT_EQ(m->inference_bytes_per_sample(), 0u);
  m->set_inference_plan(true);
  m->infer(ctx, x);
  EXPECT_GT(m->inference_bytes_per_sample(), 0u);
}

// Two training steps of a model with the training plan against the same model without it.
void check_training_with_plan(const ModelSpec& spec, const Shape& per_sample, int64_t n,
                              bool expect_plan) {
  SCOPED_TRACE(spec.arch);
  TwinModels twins(spec, 12, DType::f32, /*training=*/true);
  Model* planned = twins.planned.get();
  Model* plain = twins.plain.get();
  plain->set_training_plan(false);
  Context ctx;
  std::mt19937_64 rng(13);
  for (int step = 0; step < 2; ++step) {
    Tensor x(with_batch(n, per_sample));
    fill_uniform(x, rng);
    std::vector<double> outputs[2], grads[2], buffers[2];
    Model* models[2] = {planned, plain};
    Tensor dy;
    for (int i = 0; i < 2; ++i) {
      Model& m = *models[i];
      m.set_training(true);
      m.arena().zero_grad();
      const Tensor& y = m.forward(ctx, x);
      outputs[i] = y.to_vector();
      if (i == 0) {
        dy = Tensor(y.shape());
        fill_uniform(dy, rng);
      }
      m.backward(ctx, dy);
      grads[i] = m.arena().grads().to_vector();
      buffers[i] = m.arena().buffers().to_vector();
      // As training ends (al::train_model): the next step allocates the arena again.
      if (i == 0 && step == 0) m.release_training_arena();
    }
    EXPECT_EQ(outputs[0], outputs[1]) << "step " << step;
    EXPECT_EQ(grads[0], grads[1]) << "step " << step;
    EXPECT_EQ(buffers[0], buffers[1]) << "step " << step;
  }
  EXPECT_EQ(plain->training_bytes_per_sample(), 0u);
  if (!expect_plan) {
    EXPECT_EQ(planned->training_bytes_per_sample(), 0u);
    return;
  }
  // Without the plan a step holds every layer's output and about as many bytes of input
  // gradients; with it, the outputs no backward reads and the gradients share one arena smaller
  // than the outputs alone.
  const size_t per_sample_bytes = planned->training_bytes_per_sample();
  const size_t outputs = layer_output_bytes(*plain) / static_cast<size_t>(n);
  EXPECT_GT(per_sample_bytes, 0u);
  EXPECT_LT(per_sample_bytes, outputs) << per_sample_bytes << " vs " << outputs;
  if (spec.arch == "resnet18-cifar") {
    // BatchNorm outputs under a ReLU and residual sums: 3 of each block's 7 outputs are read by
    // no backward (measured: 4.75 MB of 7.15 MB per sample).
    EXPECT_LT(10 * per_sample_bytes, 7 * outputs) << per_sample_bytes << " vs " << outputs;
  }
}

// The training arena cannot be freed while a step runs under it.
TEST(TrainingPlan, ReleasingTheArenaMidStepIsRefused) {
  auto m = make_model({"mnist-cnn", 1, 10});
  m->build(Device::cpu(), 4);
  m->set_training(true);
  Context ctx;
  Tensor x({2, 1, 28, 28});
  std::mt19937_64 rng(3);
  fill_uniform(x, rng);
  const Tensor& y = m->forward(ctx, x);
  expect_error_mentions(
      [&] { m->release_training_arena(); },
      {"release_training_arena()", "between a training forward and its backward"});
  m->backward(ctx, Tensor::zeros(y.shape()));
  EXPECT_NO_THROW(m->release_training_arena());
}

TEST(TrainingPlan, EveryModelTrainsExactlyAsWithoutIt) {
  for (const ModelCase& c : model_cases()) {
    const bool volumes = c.per_sample.size() == 4;
    check_training_with_plan(c.spec, c.per_sample, volumes ? 2 : 3, true);
  }
}

// ImageNet ResNet-18 on 32x32 images ends in 1x1 planes, where a training-mode BatchNorm of one
// sample has one value per channel and refuses it: the plan is not recorded, training goes on.
TEST(TrainingPlan, ModelsThatCannotTrainOnOneSampleGoWithoutIt) {
  check_training_with_plan({"resnet18", 3, 5}, {3, 32, 32}, 3, false);
}

}  // namespace
}  // namespace nsal
