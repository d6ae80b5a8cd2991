// The layer stack on the GPU against the same layers on the CPU: every layer, merge op and loss
// runs forward and backward on one random float32 input on both backends, and the outputs,
// input gradients, parameter gradients and buffers are compared with the tolerance written next
// to each case (and why); the vocabulary (exact, l2, within) is in tests/cuda_compare.h. Whole
// models are in test_cuda_models.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "nn/layers/activation.h"
#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"
#include "nn/layers/merge.h"
#include "nn/layers/pool.h"
#include "nn/layers/reshape.h"
#include "nn/layers/softmax.h"
#include "nn/layers/upsample.h"
#include "nn/losses.h"
#include "tests/cuda_compare.h"
#include "tests/cuda_test_util.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::exact;
using testing::expect_error_mentions;
using testing::expect_match;
using testing::fill_uniform;
using testing::init_buffers;
using testing::l2;
using testing::Tol;
using testing::within;

using Fill = std::function<void(Tensor&, std::mt19937_64&)>;

using Maker = std::function<std::unique_ptr<Layer>()>;

struct LayerCase {
  LayerCase(std::string what_, Maker make_, Shape in_, Tol out_, Tol dx_, Tol params_,
            bool training_ = true, int steps_ = 1, Fill fill_ = {})
      : what(std::move(what_)),
        make(std::move(make_)),
        in(std::move(in_)),
        out(out_),
        dx(dx_),
        params(params_),
        training(training_),
        steps(steps_),
        fill(std::move(fill_)) {}
  std::string what;
  Maker make;
  Shape in;
  Tol out, dx, params;  // output; input gradient; parameter gradients and buffers
  bool training;
  int steps;  // forward/backward pairs (running statistics, dropout steps)
  Fill fill;  // the input (default uniform(-1, 1))
};

// One layer on both backends: same parameters and buffers, same inputs and output gradients.
void run_case(const LayerCase& c) {
  SCOPED_TRACE(c.what);
  Context cctx(Device::cpu()), gctx(Device::cuda(0));
  std::unique_ptr<Layer> lc = c.make(), lg = c.make();
  ParamArena ac, ag;
  lc->declare(ac);
  lg->declare(ag);
  ac.allocate(DType::f32, Device::cpu());
  ag.allocate(DType::f32, Device::cuda(0));
  std::mt19937_64 rng(std::hash<std::string>{}(c.what));
  if (ac.params().numel() > 0) {
    fill_uniform(ac.params(), rng);
    ag.params().copy_from(ac.params());
  }
  init_buffers(ac, rng);
  if (ac.buffers().numel() > 0) ag.buffers().copy_from(ac.buffers());
  lc->set_training(c.training);
  lg->set_training(c.training);
  for (int step = 0; step < c.steps; ++step) {
    Tensor x(c.in);
    if (c.fill)
      c.fill(x, rng);
    else
      fill_uniform(x, rng);
    Tensor xg = x.to(Device::cuda(0));
    const Tensor& yc = lc->forward(cctx, x);
    const Tensor& yg = lg->forward(gctx, xg);
    expect_match(yg, yc, c.out, "output, step " + std::to_string(step));
    Tensor dy(yc.shape());
    fill_uniform(dy, rng);
    Tensor dyg = dy.to(Device::cuda(0));
    const Tensor& dxc = lc->backward(cctx, dy);
    const Tensor& dxg = lg->backward(gctx, dyg);
    expect_match(dxg, dxc, c.dx, "input gradient, step " + std::to_string(step));
  }
  if (ac.grads().numel() > 0) expect_match(ag.grads(), ac.grads(), c.params, "parameter gradients");
  if (ac.buffers().numel() > 0) expect_match(ag.buffers(), ac.buffers(), c.params, "buffers");
}

class CudaLayers : public ::testing::Test {
 protected:
  void SetUp() override { NSAL_REQUIRE_GPU(); }
};

// ---- Convolutions ----------------------------------------------------------------------------
// cuDNN (strict fp32: FMA math only, heuristics' algorithm) against im2col + OpenBLAS: the same
// sums in another order. Dot products of up to 8 * 27 terms in float give relative L2 errors of
// order 1e-6 (direct and GEMM algorithms) to 1e-5 (Winograd / FFT transforms); 1e-4 is the bound
// the kernel tests use for strict mode (docs/cuda-backend.md), below TF32's ~4e-4, so a kernel
// silently running TF32 fails here.
TEST_F(CudaLayers, Convolutions) {
  const Tol t = l2(1e-4);
  run_case({"conv2d 3x3 pad 1 bias",
            [] { return std::make_unique<Conv2d>("c", 8, 16, 3, 1, 1, 1, 1, true); },
            {4, 8, 12, 12},
            t,
            t,
            t});
  run_case({"conv2d stride 2 dilation 2 groups 2",
            [] { return std::make_unique<Conv2d>("c", 6, 4, 3, 2, 2, 2, 2, false); },
            {3, 6, 11, 10},
            t,
            t,
            t});
  run_case({"conv2d 1x1 stride 2 (shortcut)",
            [] { return std::make_unique<Conv2d>("c", 8, 16, 1, 2, 0, 1, 1, false); },
            {4, 8, 8, 8},
            t,
            t,
            t});
  run_case({"conv3d 3x3x3 pad 1 bias",
            [] { return std::make_unique<Conv3d>("c", 4, 6, 3, 1, 1, 1, 1, true); },
            {2, 4, 6, 7, 5},
            t,
            t,
            t});
}

// ---- BatchNorm -------------------------------------------------------------------------------
// Training: cuDNN's batch statistics in float against the CPU's two-pass statistics in double.
// Normalised outputs are O(1) and carry float rounding of the mean and variance: 1e-5 relative
// L2. The training input gradient is a difference of terms of similar size
// (a dy + b x + c), so it keeps less relative precision: 1e-4. Running statistics: one momentum
// update per step in float vs double: 1e-5. Eval: an affine map per channel in float vs double,
// and the eval backward is an own kernel with the CPU's double sums: 1e-6.
TEST_F(CudaLayers, BatchNormTrainingAndEval) {
  const Tol train_out = l2(1e-5), train_dx = l2(1e-4), stats = l2(1e-5), eval = l2(1e-6);
  run_case({"batchnorm2d training, 2 steps",
            [] { return std::make_unique<BatchNorm2d>("bn", 6); },
            {4, 6, 5, 5},
            train_out,
            train_dx,
            stats,
            true,
            2});
  run_case({"batchnorm1d (N, C) training",
            [] { return std::make_unique<BatchNorm1d>("bn", 5); },
            {8, 5},
            train_out,
            train_dx,
            stats});
  run_case({"batchnorm3d training",
            [] { return std::make_unique<BatchNorm3d>("bn", 3); },
            {2, 3, 3, 4, 5},
            train_out,
            train_dx,
            stats});
  run_case({"batchnorm2d eval",
            [] { return std::make_unique<BatchNorm2d>("bn", 6); },
            {4, 6, 5, 5},
            eval,
            eval,
            eval,
            false});
  run_case({"batchnorm3d eval",
            [] { return std::make_unique<BatchNorm3d>("bn", 3); },
            {2, 3, 3, 4, 5},
            eval,
            eval,
            eval,
            false});
  BatchNormOptions plain;
  plain.affine = false;
  run_case({"batchnorm2d without affine parameters, training",
            [plain] { return std::make_unique<BatchNorm2d>("bn", 4, plain); },
            {3, 4, 4, 4},
            train_out,
            train_dx,
            stats,
            true,
            2});
  run_case({"batchnorm2d without affine parameters, eval",
            [plain] { return std::make_unique<BatchNorm2d>("bn", 4, plain); },
            {3, 4, 4, 4},
            eval,
            eval,
            eval,
            false});
  BatchNormOptions cumulative;
  cumulative.momentum.reset();  // momentum = 1 / num_batches_tracked: the count is read back
  run_case({"batchnorm2d cumulative average, 3 steps",
            [cumulative] { return std::make_unique<BatchNorm2d>("bn", 4, cumulative); },
            {3, 4, 4, 4},
            train_out,
            train_dx,
            stats,
            true,
            3});
  BatchNormOptions untracked;
  untracked.track_running_stats = false;  // batch statistics in eval mode too
  run_case({"batchnorm2d without running statistics, eval",
            [untracked] { return std::make_unique<BatchNorm2d>("bn", 4, untracked); },
            {3, 4, 4, 4},
            train_out,
            train_dx,
            stats,
            false});
}

// ---- Element-wise and copies: the same float operations on both sides, so bit for bit. ----
TEST_F(CudaLayers, ActivationsDropoutAndReshapesAreExact) {
  Fill relu_fill = [](Tensor& t, std::mt19937_64& r) {
    testing::fill_away_from(t, r, {0.0}, -2.0, 2.0);
  };
  Fill relu6_fill = [](Tensor& t, std::mt19937_64& r) {
    testing::fill_away_from(t, r, {0.0, 6.0}, -2.0, 8.0);
  };
  run_case({"relu",
            [] { return std::make_unique<ReLU>("r"); },
            {3, 4, 5},
            exact(),
            exact(),
            exact(),
            true,
            1,
            relu_fill});
  run_case({"relu6",
            [] { return std::make_unique<ReLU6>("r"); },
            {3, 4, 5},
            exact(),
            exact(),
            exact(),
            true,
            1,
            relu6_fill});
  // The mask of element i at step s is the same Philox word on both backends (kernels/dropout.h)
  // and the kept values are x * float(1 / (1 - p)) on both: exact, over two steps.
  run_case({"dropout p=0.3 training, 2 steps",
            [] { return std::make_unique<Dropout>("d", 0.3, 17); },
            {4, 8, 9},
            exact(),
            exact(),
            exact(),
            true,
            2});
  run_case({"dropout eval (identity)",
            [] { return std::make_unique<Dropout>("d", 0.3, 17); },
            {4, 8, 9},
            exact(),
            exact(),
            exact(),
            false});
  run_case({"dropout p=1",
            [] { return std::make_unique<Dropout>("d", 1.0, 3); },
            {2, 5},
            exact(),
            exact(),
            exact()});
  run_case({"flatten",
            [] { return std::make_unique<Flatten>("f"); },
            {2, 3, 4, 5},
            exact(),
            exact(),
            exact()});
  run_case({"reshape",
            [] {
              return std::make_unique<Reshape>("r", Shape{5, -1});
            },
            {2, 3, 4, 5},
            exact(),
            exact(),
            exact()});
}

// MC dropout in eval mode drops with the same masks too.
TEST_F(CudaLayers, McDropoutMasksMatch) {
  run_case({"mc dropout eval",
            [] {
              auto d = std::make_unique<Dropout>("d", 0.5, 9);
              d->set_mc(true);
              return d;
            },
            {3, 7, 5},
            exact(),
            exact(),
            exact(),
            false,
            2});
}

// ---- Linear: cuBLAS strict fp32 against OpenBLAS, dot products of 20 terms and batch sums of
// 12 rows: 1e-5 relative L2 (float rounding of short sums is ~1e-7; the margin covers cuBLAS's
// split-K orders). ----
TEST_F(CudaLayers, Linear) {
  const Tol t = l2(1e-5);
  run_case({"linear 3-D input with bias",
            [] { return std::make_unique<Linear>("l", 20, 7); },
            {3, 4, 20},
            t,
            t,
            t});
  run_case({"linear without bias",
            [] { return std::make_unique<Linear>("l", 9, 5, false); },
            {6, 9},
            t,
            t,
            t});
}

// ---- Pooling ----
// Max: the forward picks the same element (distinct inputs, no ties) and copies it: exact. The
// backward adds up to four window gradients per input cell (3x3 windows, stride 2) in another
// order on the GPU (gather per cell) than on the CPU (scatter per window): 1e-6 relative.
// Non-overlapping windows route single gradients: exact. Average: cuDNN's window sums in float
// against the CPU's, 1e-6 absolute + 1e-5 relative. Global average: warp sums in float on the
// GPU against the CPU's loop; the backward divides dy by S on both: 1e-6 relative.
TEST_F(CudaLayers, Pooling) {
  Fill distinct = [](Tensor& t, std::mt19937_64& r) { testing::fill_distinct(t, r); };
  run_case({"maxpool2d 3 stride 2 pad 1",
            [] { return std::make_unique<MaxPool2d>("p", 3, 2, 1); },
            {2, 3, 9, 8},
            exact(),
            within(1e-7, 1e-6),
            exact(),
            true,
            1,
            distinct});
  run_case({"maxpool3d 2",
            [] { return std::make_unique<MaxPool3d>("p", 2); },
            {2, 2, 4, 6, 4},
            exact(),
            exact(),
            exact(),
            true,
            1,
            distinct});
  const Tol avg = within(1e-6, 1e-5);
  run_case({"avgpool2d 3 stride 2 pad 1 count_include_pad",
            [] { return std::make_unique<AvgPool2d>("p", 3, 2, 1, true); },
            {2, 3, 9, 8},
            avg,
            avg,
            exact()});
  run_case({"avgpool2d 3 stride 2 pad 1 exclude pad",
            [] { return std::make_unique<AvgPool2d>("p", 3, 2, 1, false); },
            {2, 3, 9, 8},
            avg,
            avg,
            exact()});
  run_case({"avgpool3d 2",
            [] { return std::make_unique<AvgPool3d>("p", 2); },
            {2, 2, 4, 6, 4},
            avg,
            avg,
            exact()});
  run_case({"global average pool 2-D",
            [] { return std::make_unique<GlobalAvgPool>("g"); },
            {3, 5, 6, 7},
            within(1e-7, 1e-6),
            within(1e-8, 1e-6),
            exact()});
  run_case({"global average pool 3-D",
            [] { return std::make_unique<GlobalAvgPool>("g"); },
            {2, 4, 3, 4, 5},
            within(1e-7, 1e-6),
            within(1e-8, 1e-6),
            exact()});
}

// ---- Softmax family and upsampling: expf / logf and float sums in another order (and FMA
// contraction in device code): 1e-6 absolute + 1e-5 relative on values of order 1. ----
TEST_F(CudaLayers, SoftmaxAndUpsample) {
  const Tol t = within(1e-6, 1e-5);
  run_case(
      {"softmax (N, C)", [] { return std::make_unique<Softmax>("s"); }, {4, 7}, t, t, exact()});
  run_case({"log-softmax (N, C, H, W)",
            [] { return std::make_unique<LogSoftmax>("s"); },
            {2, 5, 3, 4},
            t,
            t,
            exact()});
  run_case({"upsample to a size",
            [] {
              return std::make_unique<UpsampleBilinear2d>("u", UpsampleSize{11, 9});
            },
            {2, 3, 5, 6},
            t,
            t,
            exact()});
  // A scale factor whose step (1 / 1.5) differs from in / out (5 / 7): the GPU must use it.
  run_case({"upsample by a scale factor",
            [] {
              return std::make_unique<UpsampleBilinear2d>("u", UpsampleScale{1.5, 1.5});
            },
            {2, 3, 5, 6},
            t,
            t,
            exact()});
}

// ---- Merge ops: element-wise adds and channel copies, bit for bit. ----
TEST_F(CudaLayers, ResidualAddConcatAccumulateAreExact) {
  Context cctx(Device::cpu()), gctx(Device::cuda(0));
  std::mt19937_64 rng(3);
  Tensor a({2, 3, 4, 5}), b({2, 3, 4, 5}), c({2, 2, 4, 5});
  for (Tensor* t : {&a, &b, &c})
    fill_uniform(*t, rng);
  Tensor ag = a.to(Device::cuda(0)), bg = b.to(Device::cuda(0)), cg = c.to(Device::cuda(0));

  ResidualAdd sc("s"), sg("s");
  expect_match(sg.forward(gctx, ag, bg), sc.forward(cctx, a, b), exact(), "residual sum");
  auto grads = sg.backward(gctx, bg);
  EXPECT_EQ(&grads.a, &bg);

  Concat cc("cat"), cgpu("cat");
  expect_match(cgpu.forward(gctx, {&ag, &cg, &bg}), cc.forward(cctx, {&a, &c, &b}), exact(),
               "concat");
  Tensor dy({2, 8, 4, 5});
  fill_uniform(dy, rng);
  Tensor dyg = dy.to(Device::cuda(0));
  const auto& gc = cc.backward(cctx, dy);
  const auto& gg = cgpu.backward(gctx, dyg);
  ASSERT_EQ(gg.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    expect_match(gg[i], gc[i], exact(), "concat gradient " + std::to_string(i));

  accumulate_into(cctx, a, b, "acc");
  accumulate_into(gctx, ag, bg, "acc");
  expect_match(ag, a, exact(), "accumulate_into");
}

// ---- Losses: the GPU reduces in double and rounds the loss to float once (1e-6 relative
// against the CPU's double); gradients are per-element float math (softmax with expf):
// 1e-7 absolute + 1e-5 relative. ----
struct LossRun {
  double loss;
  Tensor grad;  // on the host
};

template <typename L>
LossRun run_loss(L& loss, Context& ctx, const Tensor& x, const Tensor& t, double scale) {
  LossRun r;
  r.loss = loss.forward(ctx, x, t);
  r.grad = loss.backward(ctx, scale).to(Device::cpu());
  return r;
}

void expect_loss_match(const LossRun& g, const LossRun& c, const std::string& what) {
  EXPECT_NEAR(g.loss, c.loss, 1e-6 * std::abs(c.loss) + 1e-7) << what;
  expect_match(g.grad.to_vector(), c.grad.to_vector(), within(1e-7, 1e-5), what + " gradient");
}

TEST_F(CudaLayers, CrossEntropyMatchesCpu) {
  Context cctx(Device::cpu()), gctx(Device::cuda(0));
  std::mt19937_64 rng(4);
  {  // classification (N, C), mean over the batch
    Tensor x({8, 10});
    fill_uniform(x, rng, -3, 3);
    std::vector<double> labels = {0, 9, 3, 3, 5, 1, 7, 2};
    Tensor t = Tensor::from_vector(labels, {8}, DType::i32);
    Tensor xg = x.to(Device::cuda(0)), tg = t.to(Device::cuda(0));
    CrossEntropyLoss lc, lg;
    expect_loss_match(run_loss(lg, gctx, xg, tg, 0.5), run_loss(lc, cctx, x, t, 0.5), "(N, C)");
  }
  {  // segmentation (N, C, H, W) with class weights and ignored pixels
    CrossEntropyOptions o;
    o.class_weights = {0.5, 2.0, 1.0, 0.25};
    o.ignore_index = 255;
    Tensor x({2, 4, 3, 5});
    fill_uniform(x, rng, -2, 2);
    std::vector<double> labels(30);
    for (size_t i = 0; i < labels.size(); ++i)
      labels[i] = i % 7 == 3 ? 255 : static_cast<double>((i * 5) % 4);
    Tensor t = Tensor::from_vector(labels, {2, 3, 5}, DType::i32);
    Tensor xg = x.to(Device::cuda(0)), tg = t.to(Device::cuda(0));
    CrossEntropyLoss lc(o), lg(o);
    expect_loss_match(run_loss(lg, gctx, xg, tg, 1.0), run_loss(lc, cctx, x, t, 1.0),
                      "weighted (N, C, H, W)");
    // The async form gives the same value, read once.
    lg.forward_async(gctx, xg, tg);
    EXPECT_NEAR(lg.loss_value(), lc.loss_value(), 1e-6 * std::abs(lc.loss_value()));
  }
  {  // every target ignored: NaN on both, as PyTorch
    CrossEntropyOptions o;
    o.ignore_index = 255;
    Tensor x = Tensor::zeros({2, 3});
    Tensor t = Tensor::from_vector({255, 255}, {2}, DType::i32);
    Tensor xg = x.to(Device::cuda(0)), tg = t.to(Device::cuda(0));
    CrossEntropyLoss lc(o), lg(o);
    EXPECT_TRUE(std::isnan(lc.forward(cctx, x, t)));
    EXPECT_TRUE(std::isnan(lg.forward(gctx, xg, tg)));
  }
}

// A label out of range: the GPU op yields NaN (no host check inside a step); reading the loss
// turns it into the CPU path's error, naming the loss, the label and its position.
TEST_F(CudaLayers, CrossEntropyBadLabelIsAClearError) {
  Context gctx(Device::cuda(0));
  Tensor xg = Tensor::zeros({3, 5}, DType::f32, Device::cuda(0));
  Tensor tg = Tensor::from_vector({1, 12, 0}, {3}, DType::i32).to(Device::cuda(0));
  CrossEntropyLoss loss;
  expect_error_mentions([&] { loss.forward(gctx, xg, tg); },
                        {"CrossEntropyLoss", "label 12", "index 1", "out of range", "5 classes"});
  expect_error_mentions([&] { loss.backward(gctx); }, {"CrossEntropyLoss", "without a forward"});
  Tensor neg = Tensor::from_vector({1, -3, 0}, {3}, DType::i32).to(Device::cuda(0));
  loss.forward_async(gctx, xg, neg);
  expect_error_mentions([&] { loss.loss_value(); }, {"CrossEntropyLoss", "label -3"});
}

TEST_F(CudaLayers, RegressionLossesMatchCpu) {
  Context cctx(Device::cpu()), gctx(Device::cuda(0));
  std::mt19937_64 rng(5);
  Tensor x({6, 7}), t({6, 7});
  fill_uniform(x, rng, -2, 2);
  fill_uniform(t, rng, -2, 2);
  Tensor xg = x.to(Device::cuda(0)), tg = t.to(Device::cuda(0));
  MSELoss mc, mg;
  expect_loss_match(run_loss(mg, gctx, xg, tg, 2.0), run_loss(mc, cctx, x, t, 2.0), "MSELoss");
  L1Loss lc, lg;
  expect_loss_match(run_loss(lg, gctx, xg, tg, 1.0), run_loss(lc, cctx, x, t, 1.0), "L1Loss");
}

// float64 on a CUDA device: the GPU backend is float32 only, and the error names the layer.
TEST_F(CudaLayers, Float64OnCudaIsAClearError) {
  Context gctx(Device::cuda(0));
  Conv2d conv("layer1.0.conv1", 3, 4, 3);
  ParamArena arena;
  conv.declare(arena);
  arena.allocate(DType::f64, Device::cuda(0));
  Tensor x = Tensor::zeros({1, 3, 8, 8}, DType::f64, Device::cuda(0));
  expect_error_mentions([&] { conv.forward(gctx, x); }, {"conv2d 'layer1.0.conv1'", "float32"});
  ReLU relu("relu");
  expect_error_mentions([&] { relu.forward(gctx, x); }, {"relu 'relu'", "float32"});
  MSELoss mse;
  expect_error_mentions([&] { mse.forward(gctx, x, x); }, {"MSELoss", "float32"});
}

}  // namespace
}  // namespace nsal
