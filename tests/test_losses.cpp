#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "nn/losses.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

// Naive weighted-mean cross entropy over logits (N, C, S) and targets (N, S).
double naive_cross_entropy(const std::vector<double>& x, const std::vector<int>& t, int64_t N,
                           int64_t C, int64_t S, const std::vector<double>& w, int ignore) {
  long double num = 0, den = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) {
      const int y = t[n * S + s];
      if (y == ignore) continue;
      long double mx = -INFINITY, sum = 0;
      for (int64_t c = 0; c < C; ++c)
        mx = std::max<long double>(mx, x[(n * C + c) * S + s]);
      for (int64_t c = 0; c < C; ++c)
        sum += std::exp(static_cast<long double>(x[(n * C + c) * S + s]) - mx);
      const double wy = w.empty() ? 1.0 : w[y];
      num += wy * (mx + std::log(sum) - x[(n * C + y) * S + s]);
      den += wy;
    }
  return static_cast<double>(num / den);
}

Tensor labels(const std::vector<int>& v, const Shape& s) {
  Tensor t(s, DType::i32);
  for (size_t i = 0; i < v.size(); ++i)
    t.data<int32_t>()[i] = v[i];
  return t;
}

std::vector<int> random_labels(size_t n, int C, std::mt19937_64& rng, int ignore = -1000,
                               double p_ignore = 0) {
  std::uniform_int_distribution<int> u(0, C - 1);
  std::uniform_real_distribution<double> r(0, 1);
  std::vector<int> v(n);
  for (auto& e : v)
    e = r(rng) < p_ignore ? ignore : u(rng);
  return v;
}

struct CeCase {
  Shape logits;
  bool weighted;
  int ignore;
  double p_ignore;
};

void check_cross_entropy(const CeCase& tc) {
  std::mt19937_64 rng(1);
  const int64_t N = tc.logits[0], C = tc.logits[1];
  Shape tshape = tc.logits;
  tshape.erase(tshape.begin() + 1);
  const int64_t S = shape_numel(tshape) / N;
  CrossEntropyOptions opt;
  opt.ignore_index = tc.ignore;
  if (tc.weighted)
    for (int c = 0; c < C; ++c)
      opt.class_weights.push_back(0.5 + 0.25 * c);
  CrossEntropyLoss ce(opt);
  Context ctx;
  Tensor x = testing::random_tensor(tc.logits, rng, DType::f64, -3, 3);
  const std::vector<int> tv =
      random_labels(static_cast<size_t>(N * S), static_cast<int>(C), rng, tc.ignore, tc.p_ignore);
  Tensor t = labels(tv, tshape);
  const double loss = ce.forward(ctx, x, t);
  EXPECT_NEAR(loss, naive_cross_entropy(x.to_vector(), tv, N, C, S, opt.class_weights, tc.ignore),
              1e-13);
  const std::vector<double> analytic = ce.backward(ctx, 2.5).to_vector();
  auto f = [&] { return 2.5 * ce.forward(ctx, x, t); };
  const std::vector<double> numeric = testing::numeric_gradient(f, x.data<double>(), x.numel());
  testing::expect_values_near(analytic, numeric, 1e-7, "cross-entropy gradient");
}

TEST(CrossEntropyLoss, MatchesNaiveReferenceAndFiniteDifferences) {
  check_cross_entropy({{6, 5}, false, -100, 0.0});
  check_cross_entropy({{6, 5}, true, -100, 0.3});
  check_cross_entropy({{2, 4, 3, 5}, false, 255, 0.2});
  check_cross_entropy({{2, 3, 4, 3}, true, 255, 0.25});
}

TEST(CrossEntropyLoss, StableForLargeLogitsAndFloat32) {
  Context ctx;
  Tensor x = Tensor::from_vector({1e4, 1e4 + 1, -1e4, 50, -50, 0}, {2, 3}, DType::f32);
  Tensor t = labels({1, 0}, {2});
  CrossEntropyLoss ce;
  const double want = naive_cross_entropy(x.to_vector(), {1, 0}, 2, 3, 1, {}, -100);
  EXPECT_NEAR(ce.forward(ctx, x, t), want, 1e-6);
  const std::vector<double> g = ce.backward(ctx).to_vector();
  // (softmax - one-hot) / N, the softmax with the row maximum subtracted, in long double.
  const std::vector<double> xv = x.to_vector();
  const int label[2] = {1, 0};
  for (int r = 0; r < 2; ++r) {
    const long double mx = std::max({xv[3 * r], xv[3 * r + 1], xv[3 * r + 2]});
    long double sum = 0;
    for (int j = 0; j < 3; ++j)
      sum += std::exp(static_cast<long double>(xv[3 * r + j]) - mx);
    for (int j = 0; j < 3; ++j) {
      const long double want_g =
          (std::exp(static_cast<long double>(xv[3 * r + j]) - mx) / sum - (j == label[r])) / 2;
      EXPECT_NEAR(g[3 * r + j], static_cast<double>(want_g), 1e-7) << "row " << r << ", " << j;
    }
  }
}

TEST(CrossEntropyLoss, AllTargetsIgnoredGivesNaNAndZeroGradient) {
  Context ctx;
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2}, DType::f64);
  Tensor t = labels({-100, -100}, {2});
  CrossEntropyLoss ce;
  EXPECT_TRUE(std::isnan(ce.forward(ctx, x, t)));
  EXPECT_EQ(ce.backward(ctx).to_vector(), std::vector<double>(4, 0.0));
}

TEST(CrossEntropyLoss, ResultDoesNotDependOnThreadCount) {
  std::mt19937_64 rng(4);
  Tensor x = testing::random_tensor({4, 19, 64, 64}, rng, DType::f32, -4, 4);
  Tensor t = labels(random_labels(4 * 64 * 64, 19, rng, 255, 0.1), {4, 64, 64});
  double loss[2];
  std::vector<double> g[2];
  const int threads = omp_get_max_threads();
  for (int k = 0; k < 2; ++k) {
    Context ctx;
    ctx.set_threads(k == 0 ? 1 : std::max(2, threads));
    CrossEntropyOptions opt;
    opt.ignore_index = 255;
    CrossEntropyLoss ce(opt);
    loss[k] = ce.forward(ctx, x, t);
    g[k] = ce.backward(ctx).to_vector();
  }
  omp_set_num_threads(threads);
  EXPECT_EQ(loss[0], loss[1]);
  EXPECT_EQ(g[0], g[1]);
}

TEST(CrossEntropyLoss, RejectsBadLabelsAndShapesNamingTheLoss) {
  Context ctx;
  Tensor x({4, 10});
  CrossEntropyLoss ce;
  Tensor high = labels({1, 2, 12, 3}, {4});
  expect_error_mentions([&] { ce.forward(ctx, x, high); },
                        {"CrossEntropyLoss", "label 12", "index 2", "10 classes"});
  Tensor negative = labels({1, -1, 2, 3}, {4});
  expect_error_mentions([&] { ce.forward(ctx, x, negative); }, {"CrossEntropyLoss", "label -1"});
  Tensor ignored = labels({1, 255, 2, 3}, {4});
  expect_error_mentions([&] { ce.forward(ctx, x, ignored); }, {"label 255", "ignore_index -100"});
  Tensor wrong_shape = labels({1, 2, 3}, {3});
  expect_error_mentions([&] { ce.forward(ctx, x, wrong_shape); },
                        {"CrossEntropyLoss", "(4, 10)", "(4,)", "(3,)"});
  Tensor float_targets({4}, DType::f32);
  expect_error_mentions([&] { ce.forward(ctx, x, float_targets); }, {"int32", "float32"});
  Tensor int_logits({4, 10}, DType::i32);
  Tensor ok = labels({1, 2, 3, 4}, {4});
  expect_error_mentions([&] { ce.forward(ctx, int_logits, ok); }, {"CrossEntropyLoss", "int32"});
  Context gpu(Device::cuda(0));
  expect_error_mentions([&] { ce.forward(gpu, x, ok); }, {"CrossEntropyLoss", "cuda:0"});
  CrossEntropyOptions opt;
  opt.class_weights = {1, 2, 3};
  CrossEntropyLoss weighted(opt);
  expect_error_mentions([&] { weighted.forward(ctx, x, ok); }, {"3 class weights", "10 classes"});
  CrossEntropyLoss fresh;
  expect_error_mentions([&] { fresh.backward(ctx); }, {"CrossEntropyLoss", "without a forward"});
}

// forward_async() + loss_value() is forward() split in two (on the GPU the value stays on the
// device until loss_value() reads it); on the CPU both give the same value, and backward() after
// forward_async() the same gradient.
TEST(Losses, AsyncForwardThenLossValueEqualsForward) {
  std::mt19937_64 rng(9);
  Context ctx;
  Tensor x = testing::random_tensor({3, 4}, rng), t = testing::random_tensor({3, 4}, rng);
  Tensor y = labels({0, 3, 1}, {3});
  CrossEntropyLoss a, b;
  const double want = a.forward(ctx, x, y);
  const std::vector<double> want_grad = a.backward(ctx).to_vector();
  b.forward_async(ctx, x, y);
  EXPECT_EQ(b.loss_value(), want);
  EXPECT_EQ(b.loss_value(), want);  // kept, not recomputed
  EXPECT_EQ(b.backward(ctx).to_vector(), want_grad);
  MSELoss m1, m2;
  m2.forward_async(ctx, x, t);
  EXPECT_EQ(m2.loss_value(), m1.forward(ctx, x, t));
  L1Loss l1, l2;
  l2.forward_async(ctx, x, t);
  EXPECT_EQ(l2.loss_value(), l1.forward(ctx, x, t));
}

template <typename L>
void check_regression_loss(bool squared) {
  std::mt19937_64 rng(5);
  Context ctx;
  Tensor x = testing::random_tensor({4, 3, 5}, rng), t = testing::random_tensor({4, 3, 5}, rng);
  L loss;
  const std::vector<double> xv = x.to_vector(), tv = t.to_vector();
  double want = 0;
  for (size_t i = 0; i < xv.size(); ++i)
    want += squared ? (xv[i] - tv[i]) * (xv[i] - tv[i]) : std::abs(xv[i] - tv[i]);
  want /= static_cast<double>(xv.size());
  EXPECT_NEAR(loss.forward(ctx, x, t), want, 1e-15);
  const std::vector<double> analytic = loss.backward(ctx, 0.5).to_vector();
  auto f = [&] { return 0.5 * loss.forward(ctx, x, t); };
  testing::expect_values_near(analytic, testing::numeric_gradient(f, x.data<double>(), x.numel()),
                              1e-8, loss.name() + " gradient");
}

TEST(MSELoss, MatchesNaiveReferenceAndFiniteDifferences) {
  check_regression_loss<MSELoss>(true);
}

TEST(L1Loss, MatchesNaiveReferenceAndFiniteDifferences) {
  check_regression_loss<L1Loss>(false);
  Context ctx;
  Tensor x = Tensor::from_vector({1, 2}, {2}, DType::f64),
         t = Tensor::from_vector({1, 3}, {2}, DType::f64);
  L1Loss l1;
  l1.forward(ctx, x, t);
  EXPECT_EQ(l1.backward(ctx).to_vector(), (std::vector<double>{0.0, -0.5}));  // sign(0) = 0
}

TEST(MSELoss, LargeInputsReduceDeterministically) {
  std::mt19937_64 rng(6);
  Tensor x = testing::random_tensor({1 << 18}, rng, DType::f32),
         t = testing::random_tensor({1 << 18}, rng, DType::f32);
  const std::vector<double> xv = x.to_vector(), tv = t.to_vector();
  long double want = 0;
  for (size_t i = 0; i < xv.size(); ++i)
    want += (xv[i] - tv[i]) * (xv[i] - tv[i]);
  double got[2];
  const int threads = omp_get_max_threads();
  for (int k = 0; k < 2; ++k) {  // one thread, then several: the same bits
    Context ctx;
    ctx.set_threads(k == 0 ? 1 : std::max(2, threads));
    MSELoss mse;
    got[k] = mse.forward(ctx, x, t);
  }
  omp_set_num_threads(threads);
  EXPECT_NEAR(got[0], static_cast<double>(want / xv.size()), 1e-12);
  EXPECT_EQ(got[0], got[1]);
}

TEST(RegressionLosses, RejectBadInputsNamingTheLoss) {
  Context ctx;
  MSELoss mse;
  L1Loss l1;
  Tensor x({4, 3}), t({4, 2}), d({4, 3}, DType::f64), i({4, 3}, DType::i32);
  expect_error_mentions([&] { mse.forward(ctx, x, t); }, {"MSELoss", "(4, 3)", "(4, 2)"});
  expect_error_mentions([&] { l1.forward(ctx, x, d); }, {"L1Loss", "float32", "float64"});
  expect_error_mentions([&] { l1.forward(ctx, i, i); }, {"L1Loss", "int32"});
  Context gpu(Device::cuda(0));
  expect_error_mentions([&] { mse.forward(gpu, x, x); }, {"MSELoss", "cuda:0"});
}

}  // namespace
}  // namespace nsal
