// Winograd F(2x2, 3x3) convolution (kernels/cpu/conv_winograd.h) against the direct float64
// reference: forward, input gradient, filter gradient, at plane sizes that exercise the partial
// tiles (odd sides), partial registers (fewer than 16 tile columns) and several registers per
// tile line (more than 16), dilated planes; one and three threads; float32 (AVX-512 tile loops
// where compiled) and float64 (plain loops). Then the contract: dx overwritten, dw accumulated,
// bit-identical repeats, the dispatch of conv_forward/conv_backward and its switch, and bad calls.
//
// Tolerances: relative to |reference| plus the reference tensor's root mean square, 2e-5 in
// float32 (the transforms add up to 16 inputs before the products, a few roundings more than
// im2col's dot products: measured 1e-6 of the scale, about three times im2col's) and 1e-11 in
// float64.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/conv_cpu.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/error.h"
#include "tests/conv_reference.h"

namespace nsal::kernels::cpu {
namespace {

template <typename T>
std::vector<T> random_values(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v)
    e = static_cast<T>(u(rng));
  return v;
}

template <typename T>
double tolerance() {
  return sizeof(T) == 4 ? 2e-5 : 1e-11;
}

// |got - want| <= tolerance x (|want| + the reference's root mean square): a sum of many products
// rounds by about the scale of the whole tensor, also where one element of it is near zero.
template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<double>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double rms = 0;
  for (double v : want)
    rms += v * v;
  rms = want.empty() ? 0 : std::sqrt(rms / static_cast<double>(want.size()));
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= tolerance<T>() * (std::abs(want[i]) + rms)) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i] << " (rms "
                    << rms << ")";
  }
  EXPECT_EQ(bad, 0) << what;
}

// Keeps omp_get_max_threads() at `n` for the scope.
struct Threads {
  int keep;
  explicit Threads(int n) : keep(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(keep); }
};

template <typename T>
void check_shape(const ConvShape& s, bool bias) {
  const std::string what = s.str() + (sizeof(T) == 4 ? " f32" : " f64") + " threads " +
                           std::to_string(omp_get_max_threads());
  const std::vector<T> x = random_values<T>(s.x_numel(), 1), w = random_values<T>(s.w_numel(), 2),
                       b = random_values<T>(s.k, 3), dy = random_values<T>(s.y_numel(), 4);
  testing::ConvReference ref{s};
  const std::vector<double> y_want = ref.forward(x.data(), w.data(), bias ? b.data() : nullptr);
  std::vector<double> dx_want, dw_want, db_want;
  ref.backward(x.data(), w.data(), dy.data(), dx_want, dw_want, db_want);

  const size_t bytes = conv_winograd_workspace_bytes(s, sizeof(T));
  std::vector<char> ws(bytes);
  std::vector<T> y(static_cast<size_t>(s.y_numel()), T(7)),
      dx(static_cast<size_t>(s.x_numel()), T(7));
  std::vector<T> dw(static_cast<size_t>(s.w_numel()), T(0));
  conv_winograd_forward<T>(s, x.data(), w.data(), bias ? b.data() : nullptr, y.data(), ws.data(),
                           bytes);
  expect_close(y, y_want, what + " forward");
  conv_winograd_backward<T>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), ws.data(),
                            bytes);
  expect_close(dx, dx_want, what + " dx");
  expect_close(dw, dw_want, what + " dw");
}

std::vector<ConvShape> shapes() {
  std::vector<ConvShape> v;
  // Planes: one pixel, partial tiles (odd sides), 16 tile columns (31, 32), more than 16
  // (33, 34, 47: a second register per tile line), tall and flat.
  const int64_t sides[][2] = {{1, 1},   {2, 3},  {5, 7},   {8, 8},  {31, 32},
                              {32, 33}, {3, 34}, {13, 47}, {40, 2}, {1, 65}};
  int64_t i = 0;
  for (const auto& hw : sides) {
    const int64_t c = 1 + (i * 5) % 9, k = 1 + (i * 7) % 11;
    v.push_back(conv2d_shape(1 + i % 4, c, hw[0], hw[1], k, 3, 3, 1, 1));
    ++i;
  }
  // Volumes: 3x3x3 with depth padding 1 (depths 1, 2, odd, and more slices than one chunk takes
  // at these sizes), and a 1x3x3 filter slice by slice.
  v.push_back(conv3d_shape(2, 3, 1, 5, 6, 4, 3, 3, 3, 1, 1));
  v.push_back(conv3d_shape(1, 5, 2, 7, 3, 2, 3, 3, 3, 1, 1));
  v.push_back(conv3d_shape(3, 4, 5, 6, 9, 6, 3, 3, 3, 1, 1));
  v.push_back(conv3d_shape(2, 6, 9, 33, 4, 3, 3, 3, 3, 1, 1));
  ConvShape flat = conv3d_shape(2, 4, 4, 5, 7, 3, 1, 3, 3, 1, 0);
  flat.pad = {0, 1, 1};
  v.push_back(flat);
  return v;
}

// Every shape at one and three threads, with a bias on every other one (`bias_parity`).
template <typename T>
void check_all_shapes(int64_t bias_parity) {
  for (int threads : {1, 3}) {
    Threads t(threads);
    int64_t i = 0;
    for (const ConvShape& s : shapes())
      check_shape<T>(s, i++ % 2 == bias_parity);
  }
}

TEST(ConvWinograd, MatchesReferenceFloat) {
  check_all_shapes<float>(0);
}

TEST(ConvWinograd, MatchesReferenceDouble) {
  check_all_shapes<double>(1);
}

// Several samples per GEMM (small planes) and chunks that do not divide the batch.
TEST(ConvWinograd, ManySmallSamplesOnThreads) {
  Threads t(3);
  check_shape<float>(conv2d_shape(67, 9, 4, 3, 6, 3, 3, 1, 1), true);
  check_shape<float>(conv2d_shape(10, 12, 6, 6, 20, 3, 3, 1, 1), false);
}

// Volumes deep and wide enough that a chunk covers only some of the output slices (64 channels of
// 32x32 planes: 6 slices a chunk, so 9 slices take two bands, the second of 3), on threads.
TEST(ConvWinograd, VolumesInSeveralDepthBands) {
  Threads t(3);
  check_shape<float>(conv3d_shape(2, 64, 9, 32, 32, 8, 3, 3, 3, 1, 1), true);
}

// Dilated planes (drn-d-22's levels): d^2 phase planes through the plain code, merged back;
// sides that the dilation divides and sides it does not (phases of unequal sizes, zero past
// the edge), dilations 2 and 4, one and three threads, both precisions.
TEST(ConvWinograd, DilatedPlanesMatchReference) {
  const int64_t cases[][4] = {
      {8, 8, 2, 0}, {7, 9, 2, 1}, {13, 6, 4, 0}, {5, 3, 4, 1}, {16, 17, 4, 1}};
  for (int threads : {1, 3}) {
    Threads t(threads);
    int64_t i = 0;
    for (const auto& c : cases) {
      const ConvShape s = conv2d_shape(1 + i % 3, 3 + i, c[0], c[1], 4 + i, 3, 3, 1, c[2], c[2]);
      ASSERT_TRUE(conv_winograd_applies(s)) << s.str();
      check_shape<float>(s, c[3] != 0);
      check_shape<double>(s, c[3] == 0);
      ++i;
    }
  }
  // conv_forward takes it for drn-d-22's dilated shapes at a realistic batch.
  Threads t(2);
  EXPECT_TRUE(conv_uses_winograd(conv2d_shape(4, 256, 32, 32, 256, 3, 3, 1, 2, 2)));
  EXPECT_TRUE(conv_uses_winograd(conv2d_shape(4, 512, 32, 32, 512, 3, 3, 1, 4, 4)));
}

// Random x, w and dy for a shape, and a Winograd workspace for it.
struct PassData {
  std::vector<float> x, w, dy;
  std::vector<char> ws;
  PassData(const ConvShape& s, uint64_t seed)
      : x(random_values<float>(s.x_numel(), seed)),
        w(random_values<float>(s.w_numel(), seed + 1)),
        dy(random_values<float>(s.y_numel(), seed + 2)),
        ws(conv_winograd_workspace_bytes(s, sizeof(float))) {}
};

// dx is overwritten and dw accumulated; passes with only one of them give the same values.
TEST(ConvWinograd, OverwritesDxAndAccumulatesDw) {
  Threads t(2);
  const ConvShape s = conv2d_shape(5, 6, 9, 10, 7, 3, 3, 1, 1);
  PassData d(s, 5);
  const auto &x = d.x, &w = d.w, &dy = d.dy;
  auto& ws = d.ws;
  const size_t bytes = ws.size();
  std::vector<float> dx_both(x.size(), 3.0f), dw_both(w.size(), 0.0f);
  conv_winograd_backward<float>(s, x.data(), w.data(), dy.data(), dx_both.data(), dw_both.data(),
                                ws.data(), bytes);
  std::vector<float> dx_only(x.size(), -9.0f), dw_twice(w.size(), 0.0f);
  conv_winograd_backward<float>(s, nullptr, w.data(), dy.data(), dx_only.data(), nullptr, ws.data(),
                                bytes);
  EXPECT_EQ(dx_only, dx_both);
  for (int pass = 0; pass < 2; ++pass)
    conv_winograd_backward<float>(s, x.data(), nullptr, dy.data(), nullptr, dw_twice.data(),
                                  ws.data(), bytes);
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_NEAR(dw_twice[i], 2 * dw_both[i], 1e-5 * (1 + std::abs(dw_both[i]))) << i;
}

// Same inputs, same thread count: the same bits, forward and backward.
TEST(ConvWinograd, RepeatsBitForBit) {
  Threads t(3);
  const ConvShape s = conv2d_shape(7, 16, 12, 20, 8, 3, 3, 1, 1);
  PassData d(s, 8);
  const auto &x = d.x, &w = d.w, &dy = d.dy;
  auto& ws = d.ws;
  const size_t bytes = ws.size();
  std::vector<float> y[2], dx[2], dw[2];
  for (int r = 0; r < 2; ++r) {
    y[r].resize(static_cast<size_t>(s.y_numel()));
    dx[r].resize(x.size());
    dw[r].assign(w.size(), 0.0f);
    conv_winograd_forward<float>(s, x.data(), w.data(), nullptr, y[r].data(), ws.data(), bytes);
    conv_winograd_backward<float>(s, x.data(), w.data(), dy.data(), dx[r].data(), dw[r].data(),
                                  ws.data(), bytes);
  }
  EXPECT_EQ(y[0], y[1]);
  EXPECT_EQ(dx[0], dx[1]);
  EXPECT_EQ(dw[0], dw[1]);
}

// conv_forward takes Winograd for a batch of 3x3 stride-1 convolutions and im2col when switched
// off; both agree with the reference, and the Winograd path is exactly conv_winograd_forward.
TEST(ConvWinograd, ConvForwardDispatchesAndCanBeSwitchedOff) {
  Threads t(2);
  const ConvShape s = conv2d_shape(8, 8, 16, 18, 8, 3, 3, 1, 1);  // 8 x 72 tiles
  const ConvShape stem = conv2d_shape(8, 3, 16, 18, 8, 3, 3, 1, 1);
  const ConvShape strided = conv2d_shape(8, 8, 32, 32, 8, 3, 3, 2, 1);
  ASSERT_TRUE(conv_winograd_enabled());
  EXPECT_TRUE(conv_uses_winograd(s));
  EXPECT_FALSE(conv_uses_winograd(conv2d_shape(1, 8, 16, 18, 8, 3, 3, 1, 1)));  // one sample
  EXPECT_FALSE(conv_uses_winograd(stem));                                       // 3 input channels
  EXPECT_FALSE(conv_uses_winograd(strided));                                    // stride 2
  const auto x = random_values<float>(s.x_numel(), 11), w = random_values<float>(s.w_numel(), 12);
  testing::ConvReference ref{s};
  const std::vector<double> want =
      ref.forward(x.data(), w.data(), static_cast<const float*>(nullptr));

  std::vector<float> direct(static_cast<size_t>(s.y_numel())), dispatched(direct.size()),
      im2col(direct.size());
  size_t bytes = conv_winograd_workspace_bytes(s, sizeof(float));
  std::vector<char> ws(bytes);
  conv_winograd_forward<float>(s, x.data(), w.data(), nullptr, direct.data(), ws.data(), bytes);
  ASSERT_EQ(conv_workspace_bytes(s, sizeof(float)), bytes);
  conv_forward<float>(s, x.data(), w.data(), nullptr, dispatched.data(), ws.data(), bytes);
  EXPECT_EQ(dispatched, direct);

  set_conv_winograd(false);
  EXPECT_FALSE(conv_uses_winograd(s));
  bytes = conv_workspace_bytes(s, sizeof(float));
  std::vector<char> ws2(bytes);
  conv_forward<float>(s, x.data(), w.data(), nullptr, im2col.data(), ws2.data(), bytes);
  set_conv_winograd(true);
  expect_close(im2col, want, "im2col");
  expect_close(dispatched, want, "winograd");
  EXPECT_NE(im2col, dispatched);  // two different computations, not one path twice
}

TEST(ConvWinograd, RejectsOtherGeometriesAndSmallWorkspaces) {
  const ConvShape strided = conv2d_shape(2, 4, 8, 8, 4, 3, 3, 2, 1);
  EXPECT_FALSE(conv_winograd_applies(strided));
  EXPECT_FALSE(conv_winograd_applies(conv2d_shape(2, 4, 8, 8, 4, 3, 3, 1, 1, 2)));     // pad != dil
  EXPECT_FALSE(conv_winograd_applies(conv2d_shape(2, 4, 8, 8, 4, 3, 3, 1, 1, 1, 2)));  // groups
  EXPECT_FALSE(conv_winograd_applies(conv2d_shape(2, 4, 8, 8, 4, 5, 5, 1, 2)));
  EXPECT_FALSE(conv_winograd_applies(conv3d_shape(2, 4, 3, 8, 8, 4, 3, 3, 3, 2, 1)));
  EXPECT_FALSE(conv_winograd_applies(conv3d_shape(2, 4, 3, 8, 8, 4, 3, 3, 3, 1, 2, 2)));
  EXPECT_TRUE(conv_winograd_applies(conv3d_shape(2, 4, 3, 8, 8, 4, 3, 3, 3, 1, 1)));
  EXPECT_EQ(conv_winograd_workspace_bytes(strided, sizeof(float)), 0u);
  std::vector<float> buf(4096);
  std::vector<char> ws(1 << 16);
  try {
    conv_winograd_forward<float>(strided, buf.data(), buf.data(), nullptr, buf.data(), ws.data(),
                                 ws.size());
    ADD_FAILURE() << "no error for a stride-2 convolution";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("stride=2x2"), std::string::npos) << e.what();
  }
  // A workspace one byte short, plain and dilated (whose phase tensors come first).
  for (const ConvShape& s :
       {conv2d_shape(2, 4, 8, 8, 4, 3, 3, 1, 1), conv2d_shape(2, 4, 8, 8, 4, 3, 3, 1, 2, 2)}) {
    const size_t need = conv_winograd_workspace_bytes(s, sizeof(float));
    std::vector<char> small(need - 1);
    EXPECT_THROW(conv_winograd_forward<float>(s, buf.data(), buf.data(), nullptr, buf.data(),
                                              small.data(), need - 1),
                 ShapeError)
        << s.str();
  }
}

}  // namespace
}  // namespace nsal::kernels::cpu
