#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nn/layers/pool.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;

// Naive pooling over x (N, C, D, H, W) with per-dimension kernel/stride/padding (PyTorch rules).
std::vector<double> naive_pool(const std::vector<double>& x, const Shape& s5, const int k[3],
                               const int st[3], const int p[3], bool max, bool include_pad,
                               Shape& out5) {
  out5 = {s5[0], s5[1], 0, 0, 0};
  for (int i = 0; i < 3; ++i)
    out5[2 + i] = (s5[2 + i] + 2 * p[i] - k[i]) / st[i] + 1;
  std::vector<double> y;
  for (int64_t nc = 0; nc < s5[0] * s5[1]; ++nc)
    for (int64_t od = 0; od < out5[2]; ++od)
      for (int64_t oh = 0; oh < out5[3]; ++oh)
        for (int64_t ow = 0; ow < out5[4]; ++ow) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t valid = 0, padded = 0;
          for (int a = 0; a < k[0]; ++a)
            for (int b = 0; b < k[1]; ++b)
              for (int c = 0; c < k[2]; ++c) {
                const int64_t d = od * st[0] - p[0] + a, h = oh * st[1] - p[1] + b,
                              w = ow * st[2] - p[2] + c;
                ++padded;
                if (d < 0 || h < 0 || w < 0 || d >= s5[2] || h >= s5[3] || w >= s5[4]) continue;
                const double v = x[((nc * s5[2] + d) * s5[3] + h) * s5[4] + w];
                best = std::max(best, v);
                sum += v;
                ++valid;
              }
          y.push_back(max ? best : sum / static_cast<double>(include_pad ? padded : valid));
        }
  return y;
}

struct PoolCase {
  bool max;
  int dims;
  Shape shape;
  std::vector<int> k, s, p;
  bool include_pad = true;
};

void PrintTo(const PoolCase& c, std::ostream* os) {
  auto list = [](const std::vector<int>& v) {
    std::string r;
    for (int x : v)
      r += (r.empty() ? "" : ",") + std::to_string(x);
    return r;
  };
  *os << (c.max ? "max" : "avg") << c.dims << "d " << shape_str(c.shape) << " k" << list(c.k)
      << " s" << list(c.s) << " p" << list(c.p) << (c.include_pad ? "" : " exclude_pad");
}

std::unique_ptr<Layer> make_pool(const PoolCase& c) {
  PoolArg k(0), s(0), p(0);
  k.v = c.k;
  s.v = c.s;
  p.v = c.p;
  if (c.max) return std::make_unique<MaxPool>(c.dims, "pool", k, s, p);
  return std::make_unique<AvgPool>(c.dims, "pool", k, s, p, c.include_pad);
}

void expand3(const std::vector<int>& v, int dims, int fill, int out[3]) {
  for (int i = 0; i < 3; ++i)
    out[i] = fill;
  for (int i = 3 - dims; i < 3; ++i)
    out[i] = v.size() == 1 ? v[0] : v[i - (3 - dims)];
}

class PoolCases : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolCases, ForwardMatchesNaiveReference) {
  const PoolCase c = GetParam();
  std::mt19937_64 rng(1);
  auto layer = make_pool(c);
  Context ctx;
  Tensor x(c.shape, DType::f64);
  testing::fill_distinct(x, rng);
  const Tensor& y = layer->forward(ctx, x);
  Shape s5 = c.shape;
  if (c.dims == 2) s5.insert(s5.begin() + 2, 1);
  int k[3], st[3], p[3];
  expand3(c.k, c.dims, 1, k);
  expand3(c.s.empty() ? c.k : c.s, c.dims, 1, st);
  expand3(c.p, c.dims, 0, p);
  Shape out5;
  std::vector<double> want = naive_pool(x.to_vector(), s5, k, st, p, c.max, c.include_pad, out5);
  if (c.dims == 2) out5.erase(out5.begin() + 2);
  EXPECT_EQ(y.shape(), out5);
  testing::expect_tensor_near(y, want, 1e-14, "pool output");
}

TEST_P(PoolCases, GradientsMatchFiniteDifferences) {
  const PoolCase c = GetParam();
  auto layer = make_pool(c);
  testing::GradCheckOptions opt;
  opt.fill_input = [](Tensor& t, std::mt19937_64& rng) { testing::fill_distinct(t, rng); };
  testing::expect_gradients_match(*layer, c.shape, opt);
}

TEST_P(PoolCases, Float32MatchesFloat64) {
  const PoolCase c = GetParam();
  testing::expect_f32_matches_f64(
      [&] { return make_pool(c); }, c.shape, 1e-6,
      [](Tensor& t, std::mt19937_64& rng) { testing::fill_distinct(t, rng, 1e-3); });
}

INSTANTIATE_TEST_SUITE_P(
    All, PoolCases,
    ::testing::Values(PoolCase{true, 2, {2, 3, 7, 8}, {3}, {2}, {1}},
                      PoolCase{true, 2, {2, 2, 6, 6}, {2}, {}, {0}},
                      // Unpadded 2x2 and 3x3 windows take the fixed-window loop.
                      PoolCase{true, 2, {2, 3, 9, 8}, {3}, {2}, {0}},
                      PoolCase{true, 2, {1, 2, 5, 7}, {3}, {1}, {0}},
                      PoolCase{true, 2, {2, 2, 7, 5}, {2}, {1}, {0}},
                      PoolCase{true, 2, {1, 2, 7, 9}, {3, 2}, {1, 2}, {1, 0}},
                      PoolCase{true, 3, {2, 2, 5, 6, 5}, {3}, {2}, {1}},
                      PoolCase{true, 3, {1, 2, 4, 5, 6}, {2, 3, 2}, {2, 1, 2}, {1, 1, 0}},
                      PoolCase{false, 2, {2, 3, 7, 8}, {3}, {2}, {1}},
                      PoolCase{false, 2, {2, 3, 7, 8}, {3}, {2}, {1}, false},
                      PoolCase{false, 2, {2, 4, 4, 4}, {4}, {}, {0}},
                      PoolCase{false, 2, {1, 2, 6, 7}, {2, 3}, {1, 2}, {1, 1}},
                      PoolCase{false, 3, {2, 2, 5, 6, 5}, {3}, {2}, {1}},
                      PoolCase{false, 3, {1, 2, 5, 4, 6}, {3, 2, 2}, {1, 2, 2}, {1, 1, 0}, false}));

TEST(MaxPool2d, PicksTheFirstOfTiedMaximaAndPropagatesNaN) {
  MaxPool2d pool("pool", 2);
  Context ctx;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = Tensor::from_vector({1, 1, 5, 2, 1, nan, 3, 4}, {1, 1, 2, 4}, DType::f64);
  const Tensor& y = pool.forward(ctx, x);
  // Rows (1, 1, 5, 2) and (1, nan, 3, 4): the left window holds the NaN, the right one 5.
  EXPECT_TRUE(std::isnan(y.at(0)));
  EXPECT_EQ(y.at(1), 5);
  Tensor dy = Tensor::from_vector({10, 20}, {1, 1, 1, 2}, DType::f64);
  std::vector<double> dx = pool.backward(ctx, dy).to_vector();
  EXPECT_EQ(dx, (std::vector<double>{0, 0, 20, 0, 0, 10, 0, 0}));
  Tensor ties = Tensor::from_vector({2, 2, 2, 2}, {1, 1, 2, 2}, DType::f64);
  pool.forward(ctx, ties);
  Tensor g = Tensor::from_vector({1}, {1, 1, 1, 1}, DType::f64);
  EXPECT_EQ(pool.backward(ctx, g).to_vector(), (std::vector<double>{1, 0, 0, 0}));
  // Two NaNs in a window: the last one gets the gradient (PyTorch's kernels, and nsal's GPU one).
  Tensor nans = Tensor::from_vector({nan, 1, nan, 0}, {1, 1, 2, 2}, DType::f64);
  EXPECT_TRUE(std::isnan(pool.forward(ctx, nans).at(0)));
  EXPECT_EQ(pool.backward(ctx, g).to_vector(), (std::vector<double>{0, 0, 1, 0}));
}

// The float32 register loops (2x2 and 3x3 windows, width stride 1 or 2, padding up to half the
// window) against the float64 scalar loops on values full of ties, with and without a NaN:
// outputs and the chosen elements (seen through backward) are identical. Widths 37 and 40 give
// output rows of one full and one partial vector; negative values make the padding matter.
TEST(MaxPool2d, Float32RegisterLoopsMatchTheScalarLoopExactly) {
  Context ctx;
  std::mt19937_64 rng(11);
  for (int k : {2, 3})
    for (int stride : {1, 2})
      for (int pad : {0, 1})
        for (int64_t w : {37, 40})
          for (bool with_nan : {false, true}) {
            const Shape s{2, 3, 7, w};
            std::vector<double> xv(static_cast<size_t>(shape_numel(s)));
            for (double& v : xv)
              v = static_cast<double>(rng() % 3) - 3.0;  // many ties, all below zero
            if (with_nan) xv[static_cast<size_t>(3 * 7 * w + 2 * w + 5)] = std::nan("");
            MaxPool2d p32("p32", k, stride, pad), p64("p64", k, stride, pad);
            Tensor x32 = Tensor::from_vector(xv, s, DType::f32);
            Tensor x64 = Tensor::from_vector(xv, s, DType::f64);
            const std::vector<double> y32 = p32.forward(ctx, x32).to_vector();
            const std::vector<double> y64 = p64.forward(ctx, x64).to_vector();
            const std::string what = "k" + std::to_string(k) + " s" + std::to_string(stride) +
                                     " w" + std::to_string(w) + (with_nan ? " NaN" : "");
            ASSERT_EQ(y32.size(), y64.size()) << what;
            for (size_t i = 0; i < y32.size(); ++i)
              ASSERT_TRUE(y32[i] == y64[i] || (std::isnan(y32[i]) && std::isnan(y64[i])))
                  << what << ": output " << i;
            std::vector<double> dyv(y64.size());
            for (size_t i = 0; i < dyv.size(); ++i)
              dyv[i] = static_cast<double>(i % 7 + 1);
            const Shape ys = p64.output().shape();
            EXPECT_EQ(p32.backward(ctx, Tensor::from_vector(dyv, ys, DType::f32)).to_vector(),
                      p64.backward(ctx, Tensor::from_vector(dyv, ys, DType::f64)).to_vector())
                << what << ": the chosen elements differ";
          }
}

TEST(GlobalAvgPool, AveragesEverySpatialPosition) {
  GlobalAvgPool gap("gap");
  Context ctx;
  std::mt19937_64 rng(3);
  for (Shape s : {Shape{3, 4, 5, 6}, Shape{2, 3, 2, 3, 4}, Shape{4, 2, 7}}) {
    Tensor x = testing::random_tensor(s, rng);
    const Tensor& y = gap.forward(ctx, x);
    EXPECT_EQ(y.shape(), (Shape{s[0], s[1]}));
    const auto xv = x.to_vector();
    const int64_t per = x.numel() / (s[0] * s[1]);
    std::vector<double> want(static_cast<size_t>(s[0] * s[1]), 0.0);
    for (size_t i = 0; i < xv.size(); ++i)
      want[i / per] += xv[i] / static_cast<double>(per);
    testing::expect_tensor_near(y, want, 1e-14, "global average");
    testing::expect_gradients_match(gap, s);
  }
  testing::expect_f32_matches_f64([] { return std::make_unique<GlobalAvgPool>("g"); },
                                  {16, 64, 8, 8}, 1e-6);
}

TEST(Pool, RejectsBadInputsAndOptionsNamingTheLayer) {
  Context ctx;
  MaxPool2d pool("stem.pool", 3, 2, 1);
  Tensor rank3({2, 3, 8});
  expect_error_mentions([&] { pool.forward(ctx, rank3); },
                        {"maxpool2d", "stem.pool", "(N, C, H, W)", "(2, 3, 8)"});
  Tensor tiny({1, 1, 1, 0});
  expect_error_mentions([&] { pool.forward(ctx, tiny); }, {"stem.pool", "(1, 1, 1, 0)"});
  Tensor ints({1, 1, 4, 4}, DType::i32);
  expect_error_mentions([&] { pool.forward(ctx, ints); }, {"stem.pool", "int32"});
  Context gpu(Device::cuda(0));
  Tensor x({1, 1, 4, 4});
  expect_error_mentions([&] { pool.forward(gpu, x); }, {"stem.pool", "cuda:0"});
  AvgPool3d avg("avg", 2);
  expect_error_mentions([&] { avg.forward(ctx, x); }, {"avgpool3d", "avg", "(N, C, D, H, W)"});
  expect_error_mentions([] { MaxPool2d("p", 2, 2, 2); }, {"p", "padding", "half"});
  expect_error_mentions([] { AvgPool2d("p", {2, 2, 2}); }, {"p", "kernel size", "3"});
  expect_error_mentions([] { AvgPool2d("p", 0); }, {"p", "positive"});
  GlobalAvgPool gap("gap");
  Tensor flat({2, 3});
  expect_error_mentions([&] { gap.forward(ctx, flat); }, {"global_avg_pool", "gap", "(2, 3)"});
}

}  // namespace
}  // namespace nsal
