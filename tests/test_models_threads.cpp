// Thread-count independence of whole models on the CPU (DESIGN §4): one training step (forward,
// backward) of every architecture gives bit-identical outputs, parameter gradients and BatchNorm
// running statistics on 1 to 4 threads, and so does an eval-mode forward. The convolutions are
// checked path by path in test_conv_threads.cpp; this covers what lies between them (BatchNorm,
// pooling, residual adds, dropout, linear layers, upsampling).
#include <gtest/gtest.h>
#include <omp.h>

#include <random>
#include <string>
#include <vector>

#include "nn/models/registry.h"
#include "tests/tensor_bytes.h"

namespace nsal {
namespace {

struct Case {
  ModelSpec spec;
  Shape input;  // with the batch
};

std::vector<Case> cases() {
  return {
      {{"mnist-cnn", 1, 10}, {6, 1, 28, 28}},       {{"resnet18-cifar", 3, 10}, {4, 3, 32, 32}},
      {{"resnet18", 3, 10}, {2, 3, 64, 64}},        {{"drn-d-22", 3, 5}, {2, 3, 32, 40}},
      {{"resnet18-3d", 1, 10}, {2, 1, 32, 32, 32}}, {{"mobilenet-v2", 3, 10}, {3, 3, 32, 32}},
      {{"mlp", 20, 3, {64, 32}}, {9, 20}},
  };
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v)
    e = normal(rng);
  return Tensor::from_vector(v, shape);
}

struct Step {
  std::vector<uint8_t> train_out, grads, buffers, eval_out;  // their bytes
};

Step step_on(const Case& c, int threads) {
  const int keep = omp_get_max_threads();
  omp_set_num_threads(threads);
  Context ctx;
  auto m = make_model(c.spec);
  m->build(Device::cpu(), 7);
  const Tensor x = random_tensor(c.input, 1);
  Step s;
  m->set_training(true);
  const Tensor& y = m->forward(ctx, x);
  s.train_out = testing::bytes_of(y);
  m->backward(ctx, random_tensor(y.shape(), 2));
  s.grads = testing::bytes_of(m->arena().grads());
  s.buffers = testing::bytes_of(m->arena().buffers());
  m->set_training(false);
  s.eval_out = testing::bytes_of(m->infer(ctx, x));
  omp_set_num_threads(keep);
  return s;
}

TEST(ModelsThreads, TrainingStepBitIdenticalOnOneToFourThreads) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.spec.arch);
    const Step one = step_on(c, 1);
    ASSERT_FALSE(one.grads.empty());
    for (int threads = 2; threads <= 4; ++threads) {
      const Step s = step_on(c, threads);
      EXPECT_EQ(testing::first_bit_difference(s.train_out, one.train_out), -1)
          << "outputs, " << threads;
      EXPECT_EQ(testing::first_bit_difference(s.grads, one.grads), -1) << "gradients, " << threads;
      EXPECT_EQ(testing::first_bit_difference(s.buffers, one.buffers), -1)
          << "buffers, " << threads;
      EXPECT_EQ(testing::first_bit_difference(s.eval_out, one.eval_out), -1)
          << "eval outputs, " << threads;
    }
  }
}

}  // namespace
}  // namespace nsal
