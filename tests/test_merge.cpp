#include <gtest/gtest.h>

#include "nn/layers/merge.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

TEST(ResidualAdd, SumsAndPassesTheGradientToBothInputs) {
  std::mt19937_64 rng(1);
  Context ctx;
  Tensor a = testing::random_tensor({2, 3, 4, 4}, rng),
         b = testing::random_tensor({2, 3, 4, 4}, rng);
  ResidualAdd add("layer1.0.add");
  const Tensor& y = add.forward(ctx, a, b);
  std::vector<double> want = a.to_vector();
  const std::vector<double> bv = b.to_vector();
  for (size_t i = 0; i < want.size(); ++i)
    want[i] += bv[i];
  testing::expect_tensor_near(y, want, 0, "sum");

  // d/da and d/db of sum(y * r) by finite differences equal r.
  Tensor r = testing::random_tensor(y.shape(), rng);
  auto loss = [&] { return testing::sum_product(add.forward(ctx, a, b), r); };
  const std::vector<double> ga = testing::numeric_gradient(loss, a.data<double>(), a.numel());
  const std::vector<double> gb = testing::numeric_gradient(loss, b.data<double>(), b.numel());
  const ResidualAdd::Grads g = add.backward(ctx, r);
  testing::expect_values_near(ga, g.a.to_vector(), 1e-8, "d/da");
  testing::expect_values_near(gb, g.b.to_vector(), 1e-8, "d/db");
}

TEST(ResidualAdd, AccumulateIntoAddsGradients) {
  std::mt19937_64 rng(2);
  Context ctx;
  Tensor g = testing::random_tensor({3, 5}, rng, DType::f32),
         h = testing::random_tensor({3, 5}, rng, DType::f32);
  std::vector<double> want = g.to_vector();
  const std::vector<double> hv = h.to_vector();
  for (size_t i = 0; i < want.size(); ++i)
    want[i] = static_cast<float>(static_cast<float>(want[i]) + static_cast<float>(hv[i]));
  accumulate_into(ctx, g, h, "block");
  testing::expect_tensor_near(g, want, 0, "accumulated");
  Tensor other({5, 3});
  expect_error_mentions([&] { accumulate_into(ctx, g, other, "block"); },
                        {"block", "(5, 3)", "(3, 5)"});
}

TEST(ResidualAdd, RejectsMismatchedInputsNamingTheOp) {
  Context ctx;
  ResidualAdd add("layer2.0.add");
  Tensor a({2, 3, 4, 4}), b({2, 3, 2, 2}), d({2, 3, 4, 4}, DType::f64), i({2, 3, 4, 4}, DType::i32);
  expect_error_mentions([&] { add.forward(ctx, a, b); },
                        {"residual_add", "layer2.0.add", "(2, 3, 4, 4)", "(2, 3, 2, 2)"});
  expect_error_mentions([&] { add.forward(ctx, a, d); }, {"layer2.0.add", "float32", "float64"});
  expect_error_mentions([&] { add.forward(ctx, i, i); }, {"layer2.0.add", "int32"});
  Context gpu(Device::cuda(0));
  expect_error_mentions([&] { add.forward(gpu, a, a); }, {"layer2.0.add", "cuda:0"});
  add.forward(ctx, a, a);
  expect_error_mentions([&] { add.backward(ctx, b); }, {"layer2.0.add", "(2, 3, 2, 2)"});
}

TEST(Concat, JoinsChannelsAndSplitsTheGradient) {
  std::mt19937_64 rng(3);
  Context ctx;
  Tensor a = testing::random_tensor({2, 3, 4, 5}, rng),
         b = testing::random_tensor({2, 1, 4, 5}, rng),
         c = testing::random_tensor({2, 2, 4, 5}, rng);
  Concat cat("decoder.cat");
  const Tensor& y = cat.forward(ctx, {&a, &b, &c});
  ASSERT_EQ(y.shape(), (Shape{2, 6, 4, 5}));
  const std::vector<double> yv = y.to_vector(), av = a.to_vector(), bv = b.to_vector(),
                            cv = c.to_vector();
  for (int n = 0; n < 2; ++n)
    for (int ch = 0; ch < 6; ++ch)
      for (int s = 0; s < 20; ++s) {
        const double want = ch < 3   ? av[(n * 3 + ch) * 20 + s]
                            : ch < 4 ? bv[(n * 1 + ch - 3) * 20 + s]
                                     : cv[(n * 2 + ch - 4) * 20 + s];
        ASSERT_EQ(yv[(n * 6 + ch) * 20 + s], want) << n << " " << ch << " " << s;
      }
  Tensor r = testing::random_tensor(y.shape(), rng);
  auto loss = [&] { return testing::sum_product(cat.forward(ctx, {&a, &b, &c}), r); };
  Tensor* ins[3] = {&a, &b, &c};
  std::vector<std::vector<double>> numeric;
  for (Tensor* t : ins)
    numeric.push_back(testing::numeric_gradient(loss, t->data<double>(), t->numel()));
  cat.forward(ctx, {&a, &b, &c});
  const std::vector<Tensor>& grads = cat.backward(ctx, r);
  ASSERT_EQ(grads.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(grads[k].shape(), ins[k]->shape());
    testing::expect_values_near(grads[k].to_vector(), numeric[k], 1e-8, "concat gradient");
  }
}

TEST(Concat, RejectsMismatchedInputsNamingTheOp) {
  Context ctx;
  Concat cat("decoder.cat");
  Tensor a({2, 3, 4, 4}), b({2, 3, 4, 5}), d({2, 3, 4, 4}, DType::f64), i({2, 3, 4, 4}, DType::i32);
  expect_error_mentions(
      [&] {
        cat.forward(ctx, {&a, &b});
      },
      {"concat", "decoder.cat", "(2, 3, 4, 4)", "(2, 3, 4, 5)"});
  expect_error_mentions([&] { cat.forward(ctx, {&a, &d}); }, {"decoder.cat", "float64"});
  expect_error_mentions([&] { cat.forward(ctx, {&i, &i}); }, {"decoder.cat", "int32"});
  expect_error_mentions([&] { cat.forward(ctx, {}); }, {"decoder.cat", "no inputs"});
  Context gpu(Device::cuda(0));
  expect_error_mentions([&] { cat.forward(gpu, {&a}); }, {"decoder.cat", "cuda:0"});
  expect_error_mentions([&] { cat.backward(ctx, a); }, {"decoder.cat", "without a forward"});
}

}  // namespace
}  // namespace nsal
