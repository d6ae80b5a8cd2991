#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>

#include "nn/layers/batchnorm.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;
using testing::expect_tensor_near;
using testing::random_tensor;

// Naive training-mode BatchNorm of x (N, C, S) flattened: y and the batch mean / biased var.
struct BnRef {
  std::vector<double> y, mean, var;
};
BnRef naive_bn_train(const std::vector<double>& x, int64_t N, int64_t C, int64_t S,
                     const std::vector<double>& gamma, const std::vector<double>& beta,
                     double eps) {
  BnRef r;
  r.y.resize(x.size());
  for (int64_t c = 0; c < C; ++c) {
    double m = 0, v = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s)
        m += x[(n * C + c) * S + s];
    m /= static_cast<double>(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s)
        v += (x[(n * C + c) * S + s] - m) * (x[(n * C + c) * S + s] - m);
    v /= static_cast<double>(N * S);
    r.mean.push_back(m);
    r.var.push_back(v);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        r.y[i] = (x[i] - m) / std::sqrt(v + eps) * gamma[c] + beta[c];
      }
  }
  return r;
}

struct BnCase {
  int dims;
  Shape shape;
};

void PrintTo(const BnCase& c, std::ostream* os) {
  *os << "batchnorm" << c.dims << "d " << shape_str(c.shape);
}

class BatchNormShapes : public ::testing::TestWithParam<BnCase> {};

TEST_P(BatchNormShapes, TrainForwardMatchesNaiveReference) {
  const BnCase tc = GetParam();
  std::mt19937_64 rng(1);
  BatchNorm bn(tc.dims, "bn", tc.shape[1]);
  ParamArena arena;
  bn.declare(arena);
  arena.allocate(DType::f64, Device::cpu());
  testing::fill_uniform(arena.params(), rng);
  Context ctx;
  Tensor x = random_tensor(tc.shape, rng, DType::f64, -2.0, 3.0);
  const Tensor& y = bn.forward(ctx, x);
  const int64_t N = tc.shape[0], C = tc.shape[1], S = x.numel() / (N * C);
  BnRef ref =
      naive_bn_train(x.to_vector(), N, C, S, bn.weight().to_vector(), bn.bias().to_vector(), 1e-5);
  expect_tensor_near(y, ref.y, 1e-12, "output");
}

TEST_P(BatchNormShapes, GradientsMatchFiniteDifferences) {
  const BnCase tc = GetParam();
  BatchNorm bn(tc.dims, "bn", tc.shape[1]);
  testing::expect_gradients_match(bn, tc.shape);
}

TEST_P(BatchNormShapes, Float32MatchesFloat64) {
  const BnCase tc = GetParam();
  testing::expect_f32_matches_f64(
      [&] { return std::make_unique<BatchNorm>(tc.dims, "bn", tc.shape[1]); }, tc.shape, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(AllRanks, BatchNormShapes,
                         ::testing::Values(BnCase{1, {6, 4}}, BnCase{1, {3, 4, 5}},
                                           BnCase{2, {2, 3, 4, 5}}, BnCase{3, {2, 3, 2, 3, 4}}));

TEST_P(BatchNormShapes, EvalModeGradientsMatchFiniteDifferences) {
  const BnCase tc = GetParam();
  BatchNorm bn(tc.dims, "bn", tc.shape[1]);
  testing::GradCheckOptions opt;
  opt.training = false;
  opt.fill_params = [](ParamArena& arena, std::mt19937_64& rng) {
    testing::fill_uniform(arena.params(), rng);
    testing::fill_uniform(arena.buffers(), rng, 0.5, 2.0);  // running mean and a positive var
  };
  testing::expect_gradients_match(bn, tc.shape, opt);
}

TEST(BatchNorm, GradientsWithoutAffineParameters) {
  BatchNormOptions opt;
  opt.affine = false;
  BatchNorm2d bn("bn", 3, opt);
  testing::expect_gradients_match(bn, {3, 3, 2, 4});
}

TEST(BatchNorm, RunningStatisticsFollowPyTorchFormula) {
  for (bool cumulative : {false, true}) {
    std::mt19937_64 rng(2);
    BatchNormOptions opt;
    if (cumulative) opt.momentum.reset();
    BatchNorm2d bn("bn", 3, opt);
    ParamArena arena;
    bn.declare(arena);
    arena.allocate(DType::f64, Device::cpu());
    bn.running_var().fill(1.0);  // PyTorch's initial state: mean 0, var 1
    Context ctx;
    std::vector<double> rm(3, 0.0), rv(3, 1.0);
    for (int step = 1; step <= 3; ++step) {
      Tensor x = random_tensor({4, 3, 2, 2}, rng, DType::f64, -1.0, 2.0 * step);
      bn.forward(ctx, x);
      BnRef ref = naive_bn_train(x.to_vector(), 4, 3, 4, {1, 1, 1}, {0, 0, 0}, 1e-5);
      const double m = cumulative ? 1.0 / step : 0.1;
      for (int c = 0; c < 3; ++c) {
        rm[c] = (1 - m) * rm[c] + m * ref.mean[c];
        rv[c] = (1 - m) * rv[c] + m * ref.var[c] * 16.0 / 15.0;  // unbiased: count 16
      }
      expect_tensor_near(bn.running_mean(), rm, 1e-14, "running_mean");
      expect_tensor_near(bn.running_var(), rv, 1e-14, "running_var");
      EXPECT_EQ(bn.num_batches_tracked().at(0), step);
    }
    ASSERT_NE(arena.find_buffer("bn.num_batches_tracked"), nullptr);
  }
}

TEST(BatchNorm, EvalModeIsTheAffineMapOfRunningStatistics) {
  std::mt19937_64 rng(3);
  BatchNorm2d bn("bn", 4);
  ParamArena arena;
  bn.declare(arena);
  arena.allocate(DType::f64, Device::cpu());
  testing::fill_uniform(arena.params(), rng);
  testing::fill_uniform(bn.running_mean(), rng);
  testing::fill_uniform(bn.running_var(), rng, 0.5, 2.0);
  bn.set_training(false);
  Context ctx;
  Tensor x = random_tensor({2, 4, 3, 3}, rng);
  const std::vector<double> before = bn.running_mean().to_vector(),
                            before_var = bn.running_var().to_vector();
  const Tensor& y = bn.forward(ctx, x);
  const auto xv = x.to_vector(), g = bn.weight().to_vector(), b = bn.bias().to_vector(),
             rm = bn.running_mean().to_vector(), rv = bn.running_var().to_vector();
  std::vector<double> want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 9) % 4;
    want[i] = g[c] * (xv[i] - rm[c]) / std::sqrt(rv[c] + 1e-5) + b[c];
  }
  expect_tensor_near(y, want, 1e-13, "eval output");
  EXPECT_EQ(bn.running_mean().to_vector(), before) << "eval mode must not update statistics";
  EXPECT_EQ(bn.running_var().to_vector(), before_var) << "eval mode must not update statistics";
  EXPECT_EQ(bn.num_batches_tracked().at(0), 0);

  const BatchNorm::Affine a = bn.eval_affine();
  std::vector<double> folded(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 9) % 4;
    folded[i] = xv[i] * a.scale[c] + a.shift[c];
  }
  testing::expect_values_near(folded, want, 1e-13, "eval_affine");
}

TEST(BatchNorm, EvalAfterAMomentumOneUpdateReproducesTraining) {
  // Path against path: with momentum 1 the running mean is the batch mean, and with a large batch
  // the unbiased and biased variances almost agree, so eval reproduces training mode.
  std::mt19937_64 rng(4);
  BatchNormOptions opt;
  opt.momentum = 1.0;
  BatchNorm2d bn("bn", 2, opt);
  ParamArena arena;
  bn.declare(arena);
  arena.allocate(DType::f64, Device::cpu());
  testing::fill_uniform(arena.params(), rng);
  Context ctx;
  Tensor x = random_tensor({8, 2, 16, 16}, rng);
  const std::vector<double> train = bn.forward(ctx, x).to_vector();
  bn.set_training(false);
  testing::expect_tensor_near(bn.forward(ctx, x), train, 2e-3, "eval after momentum-1 update");
}

TEST(BatchNorm, WithoutRunningStatsUsesBatchStatisticsInEval) {
  std::mt19937_64 rng(5);
  BatchNormOptions opt;
  opt.track_running_stats = false;
  BatchNorm1d bn("bn", 3, opt);
  ParamArena arena;
  bn.declare(arena);
  arena.allocate(DType::f64, Device::cpu());
  EXPECT_EQ(arena.buffer_infos().size(), 0u);
  testing::fill_uniform(arena.params(), rng);
  bn.set_training(false);
  Context ctx;
  Tensor x = random_tensor({5, 3}, rng);
  BnRef ref =
      naive_bn_train(x.to_vector(), 5, 3, 1, bn.weight().to_vector(), bn.bias().to_vector(), 1e-5);
  expect_tensor_near(bn.forward(ctx, x), ref.y, 1e-12, "output");
  EXPECT_THROW(bn.eval_affine(), ShapeError);
  // Its backward in eval mode is the batch-statistics backward.
  BatchNorm2d bn2("bn", 3, opt);
  testing::GradCheckOptions g;
  g.training = false;
  testing::expect_gradients_match(bn2, {4, 3, 2, 3}, g);
}

TEST(BatchNorm, DeclaresPyTorchNamesAndRoles) {
  BatchNorm2d bn("layer1.0.bn1", 8);
  ParamArena arena;
  bn.declare(arena);
  arena.allocate(DType::f32, Device::cpu());
  const ParamInfo* w = arena.find_param("layer1.0.bn1.weight");
  const ParamInfo* b = arena.find_param("layer1.0.bn1.bias");
  ASSERT_TRUE(w && b);
  EXPECT_EQ(w->role, ParamRole::weight);
  EXPECT_EQ(b->role, ParamRole::bias);
  EXPECT_EQ(w->layer_type, "batchnorm2d");
  for (const char* n : {"running_mean", "running_var", "num_batches_tracked"})
    EXPECT_NE(arena.find_buffer(std::string("layer1.0.bn1.") + n), nullptr) << n;
}

TEST(BatchNorm, ResultDoesNotDependOnThreadCount) {
  std::mt19937_64 rng(6);
  Tensor x = random_tensor({4, 5, 33, 33}, rng, DType::f32);
  Tensor dy = random_tensor({4, 5, 33, 33}, rng, DType::f32);
  std::vector<double> y[2], dx[2];
  const int threads = omp_get_max_threads();
  for (int k = 0; k < 2; ++k) {
    Context ctx;
    ctx.set_threads(k == 0 ? 1 : std::max(2, threads));
    BatchNorm2d bn("bn", 5);
    ParamArena arena;
    bn.declare(arena);
    arena.allocate(DType::f32, Device::cpu());
    arena.params().fill(0.5);
    y[k] = bn.forward(ctx, x).to_vector();
    dx[k] = bn.backward(ctx, dy).to_vector();
  }
  omp_set_num_threads(threads);
  EXPECT_EQ(y[0], y[1]);
  EXPECT_EQ(dx[0], dx[1]);
}

TEST(BatchNorm, RejectsBadInputsNamingLayerAndShapes) {
  BatchNorm2d bn("stem.bn", 3);
  ParamArena arena;
  bn.declare(arena);
  arena.allocate(DType::f32, Device::cpu());
  Context ctx;
  Tensor wrong_c({2, 4, 5, 5});
  expect_error_mentions([&] { bn.forward(ctx, wrong_c); },
                        {"batchnorm2d", "stem.bn", "(2, 4, 5, 5)"});
  Tensor wrong_rank({2, 3, 5});
  expect_error_mentions([&] { bn.forward(ctx, wrong_rank); },
                        {"stem.bn", "(N, C, H, W)", "(2, 3, 5)"});
  Tensor one_value({1, 3, 1, 1});
  expect_error_mentions([&] { bn.forward(ctx, one_value); }, {"stem.bn", "more than 1 value"});
  Tensor f64({2, 3, 5, 5}, DType::f64);
  expect_error_mentions([&] { bn.forward(ctx, f64); }, {"stem.bn", "float64", "float32"});
  Tensor ints({2, 3, 5, 5}, DType::i32);
  expect_error_mentions([&] { bn.forward(ctx, ints); }, {"stem.bn", "int32"});
  Context gpu(Device::cuda(0));
  Tensor x({2, 3, 5, 5});
  expect_error_mentions([&] { bn.forward(gpu, x); }, {"stem.bn", "cuda:0"});
  BatchNorm3d unallocated("bn3", 3);
  Tensor x3({2, 3, 2, 2, 2});
  expect_error_mentions([&] { unallocated.forward(ctx, x3); }, {"bn3", "not allocated"});
  expect_error_mentions([&] { BatchNorm2d("bad", 0); }, {"bad", "num_features", "positive"});
}

}  // namespace
}  // namespace nsal
