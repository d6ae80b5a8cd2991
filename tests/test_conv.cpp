// Conv2d / Conv3d: forward and backward against the direct float64 reference, finite-difference
// gradient checks, conv3d of depth 1 against conv2d, errors, and gradient accumulation.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/conv_cpu.h"
#include "kernels/memory.h"
#include "nn/layers/conv.h"
#include "tests/conv_reference.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::ConvReference;
using testing::expect_error_mentions;
using testing::fill_uniform;

struct ConvCase {
  std::string label;
  int spatial;
  int64_t n;
  Shape in_spatial;  // (H, W) or (D, H, W)
  ConvOptions opt;
};

ConvOptions opts(int64_t in, int64_t out, kernels::Dims3 kernel, kernels::Dims3 stride,
                 kernels::Dims3 pad, kernels::Dims3 dil, int64_t groups, bool bias) {
  ConvOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = kernel;
  o.stride = stride;
  o.padding = pad;
  o.dilation = dil;
  o.groups = groups;
  o.bias = bias;
  return o;
}

// Many geometries: every path of the kernels (pointwise, bands of lines, several samples per
// GEMM, stride 2 and 3, groups, depthwise) at odd, non-square sizes.
std::vector<ConvCase> forward_cases() {
  using O = ConvOptions;
  return {
      {"3x3 pad 1", 2, 2, {5, 7}, O::make2d(3, 4, 3, 1, 1)},
      {"3x3 stride 2 no bias", 2, 3, {9, 6}, O::make2d(4, 6, 3, 2, 1, 1, 1, false)},
      {"2x3 kernel, stride 1x2, pad 0x1, groups 2",
       2,
       2,
       {8, 9},
       opts(6, 4, {1, 2, 3}, {1, 1, 2}, {0, 0, 1}, {1, 1, 1}, 2, true)},
      {"groups 2 through GEMMs", 2, 3, {6, 7}, O::make2d(4, 18, 3, 1, 1, 1, 2)},
      {"groups 3 through GEMMs, stride 2, one sample",
       2,
       1,
       {9, 8},
       O::make2d(6, 30, 3, 2, 1, 1, 3, false)},
      {"depthwise 3x3", 2, 2, {7, 5}, O::make2d(8, 8, 3, 1, 1, 1, 8)},
      {"depthwise 3x3 stride 2", 2, 3, {9, 21}, O::make2d(5, 5, 3, 2, 1, 1, 5, false)},
      {"depthwise padding wider than the kernel", 2, 2, {6, 5}, O::make2d(3, 3, 3, 1, 3, 1, 3)},
      {"depthwise 5x3 dilation 2",
       2,
       2,
       {11, 9},
       opts(4, 4, {1, 5, 3}, {1, 1, 1}, {0, 2, 1}, {1, 2, 2}, 4, true)},
      {"depthwise wide rows (GEMM path)", 2, 2, {3, 70}, O::make2d(2, 2, 3, 1, 1, 1, 2)},
      {"depthwise multiplier 2, stride 2", 2, 3, {6, 7}, O::make2d(4, 8, 3, 2, 1, 1, 4, false)},
      {"dilation 2", 2, 2, {9, 9}, O::make2d(3, 5, 3, 1, 2, 2)},
      {"dilation 2 stride 2", 2, 2, {10, 11}, O::make2d(2, 3, 3, 2, 1, 2)},
      {"pointwise", 2, 5, {3, 5}, O::make2d(6, 7, 1)},
      {"pointwise one sample", 2, 1, {6, 50}, O::make2d(5, 3, 1)},
      {"pointwise stride 2", 2, 4, {7, 8}, O::make2d(6, 4, 1, 2)},
      {"5x5 stride 3 pad 2", 2, 2, {11, 13}, O::make2d(3, 4, 5, 3, 2)},
      {"kernel covers the padded input", 2, 3, {1, 1}, O::make2d(2, 3, 3, 1, 1)},
      {"small outputs, several samples per GEMM", 2, 9, {4, 4}, O::make2d(3, 5, 3, 1, 1)},
      {"large output, bands of lines", 2, 2, {40, 30}, O::make2d(2, 3, 3, 1, 1)},
      {"single sample, bands", 2, 1, {33, 31}, O::make2d(3, 4, 3, 1, 1, 1, 1, false)},
      // Above a megaflop (worth_threads): these run on the thread team, the ones above alone.
      {"threaded: several samples per GEMM", 2, 7, {10, 9}, O::make2d(8, 16, 3, 1, 1)},
      {"threaded: bands of lines", 2, 3, {40, 30}, O::make2d(4, 8, 3, 1, 1)},
      {"threaded: pointwise", 2, 5, {16, 16}, O::make2d(32, 32, 1)},
      {"threaded: groups 2, stride 2", 2, 5, {20, 20}, O::make2d(8, 32, 3, 2, 1, 1, 2)},
      {"threaded: depthwise", 2, 8, {20, 20}, O::make2d(32, 32, 3, 1, 1, 1, 32)},
      {"threaded: depthwise stride 2", 2, 8, {30, 30}, O::make2d(32, 32, 3, 2, 1, 1, 32, false)},
      {"threaded: 3d", 3, 3, {8, 8, 8}, O::make3d(4, 8, 3, 1, 1)},
      // Winograd F(2x2, 3x3) (see WinogradCasesTakeWinograd): odd plane, bias.
      {"winograd: odd plane", 2, 6, {23, 17}, O::make2d(8, 12, 3, 1, 1)},
      {"winograd: 37 tile columns", 2, 3, {9, 73}, O::make2d(8, 8, 3, 1, 1, 1, 1, false)},
      {"winograd: many samples per GEMM", 2, 130, {4, 4}, O::make2d(8, 16, 3, 1, 1)},
      {"winograd: 3d", 3, 3, {8, 10, 12}, O::make3d(8, 12, 3, 1, 1)},
      {"3d 3x3x3 pad 1", 3, 2, {5, 6, 4}, O::make3d(3, 4, 3, 1, 1)},
      {"3d anisotropic, groups 2, dilation",
       3,
       2,
       {6, 7, 7},
       opts(4, 6, {2, 3, 3}, {2, 1, 2}, {1, 0, 1}, {1, 2, 1}, 2, true)},
      {"3d depthwise stride 2", 3, 3, {5, 5, 6}, O::make3d(4, 4, 3, 2, 1, 1, 4, false)},
      {"3d groups 2 through GEMMs", 3, 2, {4, 5, 3}, O::make3d(4, 20, 3, 1, 1, 1, 2)},
      {"3d pointwise", 3, 3, {3, 4, 5}, O::make3d(4, 2, 1)},
  };
}

std::unique_ptr<ConvNd> make_layer(const ConvCase& c) {
  if (c.spatial == 3) return std::make_unique<Conv3d>("net.conv", c.opt);
  return std::make_unique<Conv2d>("net.conv", c.opt);
}

Shape input_shape(const ConvCase& c) {
  Shape s{c.n, c.opt.in_channels};
  s.insert(s.end(), c.in_spatial.begin(), c.in_spatial.end());
  return s;
}

// The output shape by PyTorch's formula, (in + 2 pad - dilation (kernel - 1) - 1) / stride + 1 per
// spatial dimension, independent of the layer's own geometry code.
Shape expected_output_shape(const ConvCase& c) {
  Shape s{c.n, c.opt.out_channels};
  const size_t first = 3 - c.in_spatial.size();  // 2D uses the last two of (D, H, W)
  for (size_t j = 0; j < c.in_spatial.size(); ++j) {
    const size_t i = first + j;
    s.push_back(
        (c.in_spatial[j] + 2 * c.opt.padding[i] - c.opt.dilation[i] * (c.opt.kernel[i] - 1) - 1) /
            c.opt.stride[i] +
        1);
  }
  return s;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - want[i]);
    if (!(err <= tol * (1 + std::abs(want[i]))) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

// Forward and all gradients of the layer against the reference, at a given thread count.
void check_against_reference(const ConvCase& c, DType dtype, int threads) {
  const std::string what =
      c.label + (dtype == DType::f64 ? " f64" : " f32") + " threads " + std::to_string(threads);
  const double tol = dtype == DType::f64 ? 1e-11 : 2e-5;
  const int keep_threads = omp_get_max_threads();
  Context ctx;
  ctx.set_threads(threads);
  auto layer = make_layer(c);
  ParamArena arena;
  layer->declare(arena);
  arena.allocate(dtype, Device::cpu());
  std::mt19937_64 rng(42);
  fill_uniform(arena.params(), rng);
  const Shape in = input_shape(c);
  Tensor x(in, dtype);
  fill_uniform(x, rng);
  const kernels::ConvShape s = layer->conv_shape(in);

  // The reference works on the same (rounded) values, in float64.
  const Tensor x64 = x.to_dtype(DType::f64);
  const Tensor w64 = layer->weight().to_dtype(DType::f64);
  Tensor b64;
  if (c.opt.bias) b64 = layer->bias().to_dtype(DType::f64);
  ConvReference ref{s};
  const std::vector<double> y_want = ref.forward(x64.data<double>(), w64.data<double>(),
                                                 c.opt.bias ? b64.data<double>() : nullptr);

  const Tensor& y = layer->forward(ctx, x);
  EXPECT_EQ(y.shape(), expected_output_shape(c)) << what;
  EXPECT_EQ(layer->output_shape(in), expected_output_shape(c)) << what;
  expect_close(y.to_vector(), y_want, tol, what + " forward");

  Tensor dy(y.shape(), dtype);
  fill_uniform(dy, rng);
  const Tensor dy64 = dy.to_dtype(DType::f64);
  std::vector<double> dx_want, dw_want, db_want;
  ref.backward(x64.data<double>(), w64.data<double>(), dy64.data<double>(), dx_want, dw_want,
               db_want);
  arena.zero_grad();
  const Tensor& dx = layer->backward(ctx, dy);
  expect_close(dx.to_vector(), dx_want, tol, what + " dx");
  expect_close(layer->weight_grad().to_vector(), dw_want, tol, what + " dweight");
  if (c.opt.bias) expect_close(layer->bias_grad().to_vector(), db_want, tol, what + " dbias");
  ctx.set_threads(keep_threads);
}

TEST(Conv, SomeReferenceCasesRunOnThreads) {
  int threaded = 0;
  for (const ConvCase& c : forward_cases()) {
    auto layer = make_layer(c);
    threaded += kernels::worth_threads(layer->conv_shape(input_shape(c))) ? 1 : 0;
  }
  EXPECT_GE(threaded, 7);
}

// The "winograd:" cases above take that path (and the others do not; the choice depends on the
// shape alone), so the reference comparisons below cover it through the layer.
TEST(Conv, WinogradCasesTakeWinograd) {
  for (const ConvCase& c : forward_cases()) {
    const bool want = c.label.rfind("winograd:", 0) == 0;
    auto layer = make_layer(c);
    EXPECT_EQ(kernels::cpu::conv_uses_winograd(layer->conv_shape(input_shape(c))), want) << c.label;
  }
}

TEST(Conv, ForwardAndBackwardMatchReferenceFloat32) {
  for (const ConvCase& c : forward_cases())
    for (int threads : {1, 3})
      check_against_reference(c, DType::f32, threads);
}

TEST(Conv, ForwardAndBackwardMatchReferenceFloat64) {
  for (const ConvCase& c : forward_cases())
    for (int threads : {1, 2})
      check_against_reference(c, DType::f64, threads);
}

TEST(Conv, OutputShapesFollowPyTorch) {
  Conv2d a("a", ConvOptions::make2d(3, 8, 3, 2, 1));
  EXPECT_EQ(a.output_shape({4, 3, 32, 31}), (Shape{4, 8, 16, 16}));
  Conv2d b("b", ConvOptions::make2d(3, 8, 3, 1, 0, 2));
  EXPECT_EQ(b.output_shape({1, 3, 5, 9}), (Shape{1, 8, 1, 5}));
  Conv3d c("c", ConvOptions::make3d(2, 4, 3, 2, 1));
  EXPECT_EQ(c.output_shape({2, 2, 32, 32, 32}), (Shape{2, 4, 16, 16, 16}));
  EXPECT_EQ(c.weight_shape(), (Shape{4, 2, 3, 3, 3}));
}

TEST(Conv, DeclaresPyTorchNamedParameters) {
  Conv2d conv("layer1.0.conv1", ConvOptions::make2d(6, 4, 3, 1, 1, 1, 2));
  Conv3d conv3("features.0", ConvOptions::make3d(2, 5, 3, 1, 1, 1, 1, false));
  ParamArena arena;
  conv.declare(arena);
  conv3.declare(arena);
  arena.allocate(DType::f32, Device::cpu());
  const ParamInfo* w = arena.find_param("layer1.0.conv1.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (Shape{4, 3, 3, 3}));
  EXPECT_EQ(w->layer_type, "conv2d");
  EXPECT_EQ(w->role, ParamRole::weight);
  const ParamInfo* b = arena.find_param("layer1.0.conv1.bias");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (Shape{4}));
  EXPECT_EQ(b->role, ParamRole::bias);
  const ParamInfo* w3 = arena.find_param("features.0.weight");
  ASSERT_NE(w3, nullptr);
  EXPECT_EQ(w3->shape, (Shape{5, 2, 3, 3, 3}));
  EXPECT_EQ(w3->layer_type, "conv3d");
  EXPECT_EQ(arena.find_param("features.0.bias"), nullptr);
  EXPECT_EQ(conv.weight().shape(), (Shape{4, 3, 3, 3}));
}

// Finite differences in float64 on every input and parameter (sampled when large).
TEST(Conv, GradientCheckConv2d) {
  struct G {
    ConvOptions opt;
    Shape in;
  };
  const std::vector<G> cases = {
      {ConvOptions::make2d(3, 4, 3, 1, 1), {2, 3, 5, 6}},
      {ConvOptions::make2d(4, 6, 3, 2, 1, 1, 2), {2, 4, 7, 6}},
      {ConvOptions::make2d(4, 4, 3, 1, 2, 2, 4, false), {3, 4, 6, 5}},
      {ConvOptions::make2d(2, 18, 3, 2, 1, 1, 2), {2, 2, 5, 5}},
      {ConvOptions::make2d(5, 3, 1), {3, 5, 4, 3}},
      {opts(2, 3, {1, 2, 3}, {1, 2, 1}, {0, 1, 0}, {1, 1, 2}, 1, true), {2, 2, 6, 8}},
      {ConvOptions::make2d(8, 8, 3, 1, 1), {4, 8, 17, 29}},  // Winograd (see below)
  };
  for (const G& g : cases) {
    Conv2d conv("block.conv", g.opt);
    SCOPED_TRACE(shape_str(g.in));
    testing::expect_gradients_match(conv, g.in);
  }
  Conv2d last("block.conv", cases.back().opt);
  EXPECT_TRUE(kernels::cpu::conv_uses_winograd(last.conv_shape(cases.back().in)))
      << "the last case must take the Winograd path";
}

TEST(Conv, GradientCheckConv3d) {
  struct G {
    ConvOptions opt;
    Shape in;
  };
  const std::vector<G> cases = {
      {ConvOptions::make3d(2, 3, 3, 1, 1), {2, 2, 4, 4, 5}},
      {ConvOptions::make3d(4, 4, 3, 2, 1, 1, 2, false), {2, 4, 5, 5, 4}},
      {opts(2, 2, {2, 1, 3}, {1, 2, 1}, {1, 0, 1}, {2, 1, 1}, 2, true), {1, 2, 5, 5, 4}},
      {ConvOptions::make3d(3, 2, 1), {2, 3, 2, 3, 3}},
      {ConvOptions::make3d(8, 8, 3, 1, 1), {2, 8, 4, 16, 15}},  // Winograd
  };
  for (const G& g : cases) {
    Conv3d conv("block.conv", g.opt);
    SCOPED_TRACE(shape_str(g.in));
    testing::expect_gradients_match(conv, g.in);
  }
}

// A conv3d over depth 1 with kernel depth 1 is the conv2d of the same data, forward and backward.
TEST(Conv, Conv3dOfDepthOneEqualsConv2d) {
  for (DType dtype : {DType::f32, DType::f64}) {
    const ConvOptions o2 = ConvOptions::make2d(4, 6, 3, 2, 1, 1, 2);
    ConvOptions o3 = o2;  // depth fields stay kernel 1, stride 1, padding 0
    Conv2d c2("c", o2);
    Conv3d c3("c", o3);
    ParamArena a2, a3;
    c2.declare(a2);
    c3.declare(a3);
    a2.allocate(dtype, Device::cpu());
    a3.allocate(dtype, Device::cpu());
    std::mt19937_64 rng(9);
    fill_uniform(a2.params(), rng);
    a3.params().copy_from(a2.params());
    Context ctx;
    Tensor x2({3, 4, 9, 7}, dtype);
    fill_uniform(x2, rng);
    const Tensor x3 = x2.reshaped({3, 4, 1, 9, 7});
    const Tensor& y2 = c2.forward(ctx, x2);
    const Tensor& y3 = c3.forward(ctx, x3);
    ASSERT_EQ(y3.shape(), (Shape{3, 6, 1, 5, 4}));
    EXPECT_EQ(y2.to_vector(), y3.to_vector());
    Tensor dy2(y2.shape(), dtype);
    fill_uniform(dy2, rng);
    const Tensor dy3 = dy2.reshaped(y3.shape());
    a2.zero_grad();
    a3.zero_grad();
    const Tensor& dx2 = c2.backward(ctx, dy2);
    const Tensor& dx3 = c3.backward(ctx, dy3);
    EXPECT_EQ(dx2.to_vector(), dx3.to_vector());
    EXPECT_EQ(a2.grads().to_vector(), a3.grads().to_vector());
  }
}

// Two backward passes accumulate twice the gradients of one.
TEST(Conv, BackwardAccumulatesParameterGradients) {
  for (DType dtype : {DType::f32, DType::f64}) {
    Conv2d conv("conv", ConvOptions::make2d(3, 4, 3, 1, 1));
    ParamArena arena;
    conv.declare(arena);
    arena.allocate(dtype, Device::cpu());
    std::mt19937_64 rng(3);
    fill_uniform(arena.params(), rng);
    Context ctx;
    Tensor x({4, 3, 6, 6}, dtype);
    fill_uniform(x, rng);
    Tensor dy(conv.output_shape(x.shape()), dtype);
    fill_uniform(dy, rng);
    arena.zero_grad();
    conv.forward(ctx, x);
    conv.backward(ctx, dy);
    const std::vector<double> once = arena.grads().to_vector();
    conv.forward(ctx, x);
    conv.backward(ctx, dy);
    const std::vector<double> twice = arena.grads().to_vector();
    double norm = 0;
    for (size_t i = 0; i < once.size(); ++i) {
      EXPECT_NEAR(twice[i], 2 * once[i], 1e-5 * (1 + std::abs(once[i])));
      norm += std::abs(once[i]);
    }
    EXPECT_GT(norm, 0.0);
  }
}

// Each kind of bad input: a ShapeError that names the layer and the shapes.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ShapeError& e) {
    return e.what();
  }
  return "(no ShapeError)";
}

struct ErrorFixture {
  Conv2d conv{"layer2.0.conv1", ConvOptions::make2d(3, 8, 3, 1, 1)};
  ParamArena arena;
  Context ctx;
  ErrorFixture() {
    conv.declare(arena);
    arena.allocate(DType::f32, Device::cpu());
  }
};

TEST(ConvErrors, WrongNumberOfDimensions) {
  ErrorFixture f;
  Tensor x({2, 3, 8});
  const std::string msg = error_of([&] { f.conv.forward(f.ctx, x); });
  EXPECT_NE(msg.find("conv2d 'layer2.0.conv1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(2, 3, 8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(8, 3, 3, 3)"), std::string::npos) << msg;
}

TEST(ConvErrors, WrongChannels) {
  ErrorFixture f;
  Tensor x({2, 4, 8, 8});
  const std::string msg = error_of([&] { f.conv.forward(f.ctx, x); });
  EXPECT_NE(msg.find("conv2d 'layer2.0.conv1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(2, 4, 8, 8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(8, 3, 3, 3)"), std::string::npos) << msg;
}

TEST(ConvErrors, InputSmallerThanKernel) {
  Conv3d conv("enc.conv", ConvOptions::make3d(1, 2, 5, 1, 0, 1));
  const std::string msg = error_of([&] { conv.output_shape({1, 1, 8, 3, 8}); });
  EXPECT_NE(msg.find("conv3d 'enc.conv'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(1, 1, 8, 3, 8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(2, 1, 5, 5, 5)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("height"), std::string::npos) << msg;
}

TEST(ConvErrors, WrongDtype) {
  ErrorFixture f;
  Tensor xi({2, 3, 8, 8}, DType::i32);
  std::string msg = error_of([&] { f.conv.forward(f.ctx, xi); });
  EXPECT_NE(msg.find("conv2d 'layer2.0.conv1'"), std::string::npos) << msg;
  Tensor xd({2, 3, 8, 8}, DType::f64);  // float64 input, float32 parameters
  msg = error_of([&] { f.conv.forward(f.ctx, xd); });
  EXPECT_NE(msg.find("conv2d 'layer2.0.conv1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float64"), std::string::npos) << msg;
}

TEST(ConvErrors, WrongDevice) {
  ErrorFixture f;
  Context cuda_ctx(Device::cuda());
  Tensor x({2, 3, 8, 8});
  const std::string msg = error_of([&] { f.conv.forward(cuda_ctx, x); });
  EXPECT_NE(msg.find("conv2d 'layer2.0.conv1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cuda"), std::string::npos) << msg;
}

TEST(ConvErrors, BadOptions) {
  expect_error_mentions([&] { Conv2d("c", ConvOptions::make2d(6, 4, 3, 1, 1, 1, 4)); },
                        {"divide by groups 4"});  // 6 % 4
  expect_error_mentions([&] { Conv2d("c", ConvOptions::make2d(4, 4, 0)); }, {"kernel 0", ">= 1"});
  expect_error_mentions([&] { Conv2d("c", ConvOptions::make2d(4, 4, 3, 1, -1)); },
                        {"padding -1", ">= 0"});
  expect_error_mentions([&] { Conv2d("c", ConvOptions::make3d(4, 4, 3)); },
                        {"2D convolution", "depth"});  // depth kernel 3 in 2D
}

}  // namespace
}  // namespace nsal
