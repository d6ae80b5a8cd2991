// Whole models on the GPU against the same models on the CPU: a model built on the GPU, the
// forward and backward of resnet18-cifar and mnist-cnn in training and eval mode, two SGD steps,
// the fused inference path (BatchNorm folded, cuDNN's conv + bias + activation), the memory
// plans (Model::infer against forward, training with and without the training plan), and the
// steady-state contract (a warm training step and a warm scoring pass captured in a CUDA graph:
// no allocation, no host wait). The layers one by one are in test_cuda_layers.cpp; tolerances
// as in tests/cuda_compare.h, with the reason written next to each.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "nn/layers/dropout.h"
#include "nn/losses.h"
#include "nn/models/registry.h"
#include "nn/models/resnet_cifar.h"
#include "nn/optim/optimizer.h"
#include "tests/cuda_compare.h"
#include "tests/cuda_test_util.h"
#include "tests/layer_test_util.h"
#ifdef NSAL_WITH_CUDA
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpu_handles.h"
#include "tests/cuda_graph_capture.h"
#endif

namespace nsal {
namespace {

using testing::expect_match;
using testing::fill_uniform;
using testing::init_buffers;
using testing::l2;

class CudaModels : public ::testing::Test {
 protected:
  void SetUp() override { NSAL_REQUIRE_GPU(); }
};

// The arena lives on the device and holds the same initial values as a CPU build (the init is
// computed on the host from the seed and copied).
TEST_F(CudaModels, ModelBuildOnCudaCopiesTheInit) {
  for (const char* arch : {"resnet18-cifar", "mnist-cnn"}) {
    SCOPED_TRACE(arch);
    auto mc = make_model({arch, 3, 10}), mg = make_model({arch, 3, 10});
    mc->build(Device::cpu(), 42);
    mg->build(Device::cuda(0), 42);
    EXPECT_TRUE(mg->arena().params().device().is_cuda());
    EXPECT_TRUE(mg->arena().grads().device().is_cuda());
    EXPECT_EQ(mg->arena().params().to_vector(), mc->arena().params().to_vector());
    EXPECT_EQ(mg->arena().buffers().to_vector(), mc->arena().buffers().to_vector());
    EXPECT_EQ(mg->arena().grads().to_vector(), mc->arena().grads().to_vector());
  }
}

struct ModelPair {
  std::unique_ptr<Model> cpu, gpu;
  Context cctx{Device::cpu()}, gctx{Device::cuda(0)};
  ModelPair(const std::string& arch, int64_t in_channels) {
    cpu = make_model({arch, in_channels, 10});
    gpu = make_model({arch, in_channels, 10});
    cpu->build(Device::cpu(), 7);
    gpu->build(Device::cuda(0), 7);
  }
};

// Forward + cross-entropy + backward of a whole model on both backends, in training mode (batch
// statistics, dropout masks) and in eval mode (running statistics, the eval backward that the
// Jacobian checks of acquisition use). Tolerances: 20 convolutions each within ~1e-5 of the
// other backend compound to a few 1e-5 on the logits; 5e-4 relative L2 leaves a margin of ten
// and still fails for TF32 (~1e-3 per layer). Gradients pass back through the same layers plus
// cuDNN's weight-gradient sums over the batch: 2e-3 relative L2 over the whole arena.
void check_model(const std::string& arch, int64_t in_channels, const Shape& in, bool training) {
  SCOPED_TRACE(arch + (training ? " training" : " eval"));
  ModelPair m(arch, in_channels);
  std::mt19937_64 rng(12);
  Tensor x(in);
  fill_uniform(x, rng);
  Tensor xg = x.to(Device::cuda(0));
  std::vector<double> labels;
  for (int64_t i = 0; i < in[0]; ++i)
    labels.push_back(static_cast<double>((i * 3) % 10));
  Tensor t = Tensor::from_vector(labels, {in[0]}, DType::i32);
  Tensor tg = t.to(Device::cuda(0));
  m.cpu->set_training(training);
  m.gpu->set_training(training);
  CrossEntropyLoss lc, lg;
  for (int step = 0; step < 2; ++step) {  // the second step sees updated running statistics
    m.cpu->arena().zero_grad();
    m.gpu->arena().zero_grad();
    const Tensor& yc = m.cpu->forward(m.cctx, x);
    const Tensor& yg = m.gpu->forward(m.gctx, xg);
    expect_match(yg, yc, l2(5e-4), "logits");
    expect_match(m.gpu->features(), m.cpu->features(), l2(5e-4), "features");
    const double loss_c = lc.forward(m.cctx, yc, t), loss_g = lg.forward(m.gctx, yg, tg);
    EXPECT_NEAR(loss_g, loss_c, 1e-4 * std::abs(loss_c)) << "loss";
    m.cpu->backward(m.cctx, lc.backward(m.cctx));
    m.gpu->backward(m.gctx, lg.backward(m.gctx));
    expect_match(m.gpu->arena().grads(), m.cpu->arena().grads(), l2(2e-3), "parameter gradients");
    expect_match(m.gpu->arena().buffers(), m.cpu->arena().buffers(), l2(1e-4), "buffers");
  }
}

TEST_F(CudaModels, ResNet18CifarMatchesCpu) {
  check_model("resnet18-cifar", 3, {4, 3, 32, 32}, true);
  check_model("resnet18-cifar", 3, {4, 3, 32, 32}, false);
}

TEST_F(CudaModels, MnistCnnMatchesCpu) {
  check_model("mnist-cnn", 1, {6, 1, 28, 28}, true);
  check_model("mnist-cnn", 1, {6, 1, 28, 28}, false);
}

// Two SGD steps (momentum, weight decay) on both backends: the parameter UPDATES agree (comparing
// the parameters themselves would hide a wrong gradient behind the unchanged weights). Same
// tolerance as the gradients they come from: 2e-3 relative L2.
TEST_F(CudaModels, SgdTrainingStepMatchesCpu) {
  ModelPair m("resnet18-cifar", 3);
  std::mt19937_64 rng(13);
  Tensor x({4, 3, 32, 32});
  fill_uniform(x, rng);
  Tensor xg = x.to(Device::cuda(0));
  Tensor t = Tensor::from_vector({1, 4, 4, 9}, {4}, DType::i32), tg = t.to(Device::cuda(0));
  SgdOptions o;
  o.lr = 0.05f;
  Sgd sc(m.cpu->arena(), o), sg(m.gpu->arena(), o);
  const std::vector<double> p0 = m.cpu->arena().params().to_vector();
  CrossEntropyLoss lc, lg;
  for (int step = 0; step < 2; ++step) {
    sc.zero_grad(m.cctx);
    sg.zero_grad(m.gctx);
    lc.forward(m.cctx, m.cpu->forward(m.cctx, x), t);
    lg.forward(m.gctx, m.gpu->forward(m.gctx, xg), tg);
    m.cpu->backward(m.cctx, lc.backward(m.cctx));
    m.gpu->backward(m.gctx, lg.backward(m.gctx));
    sc.step(m.cctx);
    sg.step(m.gctx);
  }
  std::vector<double> dc = m.cpu->arena().params().to_vector();
  std::vector<double> dg = m.gpu->arena().params().to_vector();
  for (size_t i = 0; i < p0.size(); ++i) {
    dc[i] -= p0[i];
    dg[i] -= p0[i];
  }
  expect_match(dg, dc, l2(2e-3), "parameter update of two SGD steps");
}

// ---- The fused inference path on the GPU (nn/fuse.h): BN folded on the device, cuDNN's conv +
// bias + ReLU (+ residual) kernel. Against the unfused GPU path: the fold changes only float
// rounding (tests/test_fused_inference.cpp explains 1e-4 relative L2); against the CPU's
// unfused path the backends' difference (5e-4, as above) adds to it. ----
TEST_F(CudaModels, FusedInferenceMatchesUnfused) {
  ModelPair m("resnet18-cifar", 3);
  std::mt19937_64 rng(14);
  init_buffers(m.cpu->arena(), rng);  // non-trivial statistics, copied to the GPU model
  m.gpu->arena().buffers().copy_from(m.cpu->arena().buffers());
  Tensor x({8, 3, 32, 32});
  fill_uniform(x, rng);
  Tensor xg = x.to(Device::cuda(0));
  m.cpu->set_training(false);
  m.gpu->set_training(false);
  const std::vector<double> cpu_ref = m.cpu->forward(m.cctx, x).to_vector();
  const std::vector<double> gpu_ref = m.gpu->forward(m.gctx, xg).to_vector();
  m.gpu->set_fused_inference(true);
  const std::vector<double> gpu_fused = m.gpu->forward(m.gctx, xg).to_vector();
  expect_match(gpu_fused, gpu_ref, l2(1e-4), "fused vs unfused on the GPU");
  expect_match(gpu_fused, cpu_ref, l2(5e-4), "fused GPU vs unfused CPU");
  auto* resnet = dynamic_cast<ResNetCifar*>(m.gpu.get());
  ASSERT_NE(resnet, nullptr);
  RecordProperty("fused_resnet_kernels", std::to_string(resnet->fused_kernels_last_forward()) +
                                             " of " + std::to_string(resnet->fused_units()));
  // Weights changed in place (noise-stability perturbation) are refolded at the next forward.
  Tensor saved = m.gpu->arena().params().clone();
  kernels::gpu::scale(m.gctx.gpu(), m.gpu->arena().params().data<float>(),
                      m.gpu->arena().arena_size(), 1.01f);
  const std::vector<double> scaled_fused = m.gpu->forward(m.gctx, xg).to_vector();
  m.gpu->set_fused_inference(false);
  expect_match(scaled_fused, m.gpu->forward(m.gctx, xg).to_vector(), l2(1e-4),
               "fused vs unfused after an in-place weight change");
  m.gpu->arena().params().copy_from(saved);
}

// ---- The inference memory plan on the GPU (nn/memory_plan.h): Model::infer gives every
// output a slice of one device arena; the same kernels on the same values, so forward()'s
// results bit for bit (deterministic mode), at two batch sizes (the arena grows). ----
// The same model twice on the GPU (one to run with a memory plan, one without), from one seed,
// on a deterministic context; inputs of n samples of the model's shape.
struct TwinModels {
  Context ctx{Device::cuda(0)};
  bool mnist;
  std::unique_ptr<Model> planned, plain;
  TwinModels(const std::string& arch, uint64_t seed) : mnist(arch == "mnist-cnn") {
    ctx.set_deterministic(true);
    planned = make_model({arch, mnist ? 1 : 3, 10});
    plain = make_model({arch, mnist ? 1 : 3, 10});
    planned->build(Device::cuda(0), seed);
    plain->build(Device::cuda(0), seed);
  }
  Shape input(int64_t n) const { return mnist ? Shape{n, 1, 28, 28} : Shape{n, 3, 32, 32}; }
};

TEST_F(CudaModels, InferMatchesForwardOnTheGpu) {
  for (const char* arch : {"resnet18-cifar", "mnist-cnn", "drn-d-22"}) {
    SCOPED_TRACE(arch);
    TwinModels m(arch, 5);
    m.planned->set_training(false);
    m.plain->set_training(false);
    std::mt19937_64 rng(16);
    for (int64_t n : {4, 6}) {
      Tensor x(m.input(n));
      fill_uniform(x, rng);
      Tensor xg = x.to(Device::cuda(0));
      const std::vector<double> want = m.plain->forward(m.ctx, xg).to_vector();
      EXPECT_EQ(m.planned->infer(m.ctx, xg).to_vector(), want) << "batch " << n;
      EXPECT_EQ(m.planned->features().to_vector(), m.plain->features().to_vector())
          << "batch " << n;
    }
    EXPECT_GT(m.planned->inference_bytes_per_sample(), 0u);
  }
  // The fused paths (float32 and bf16) under their own plans: their forward()'s bits.
  TwinModels m("resnet18-cifar", 5);
  std::mt19937_64 rng(18);
  Tensor x(m.input(4));
  fill_uniform(x, rng);
  Tensor xg = x.to(Device::cuda(0));
  for (MathMode math : {MathMode::strict_fp32, MathMode::bf16}) {
    SCOPED_TRACE(math_mode_name(math));
    m.ctx.set_math_mode(math);
    for (Model* model : {m.planned.get(), m.plain.get()}) {
      model->set_training(false);
      model->set_fused_inference(true);
    }
    const std::vector<double> want = m.plain->forward(m.ctx, xg).to_vector();
    EXPECT_EQ(m.planned->infer(m.ctx, xg).to_vector(), want);
    EXPECT_EQ(m.planned->features().to_vector(), m.plain->features().to_vector());
  }
  m.ctx.set_math_mode(MathMode::strict_fp32);
}

// ---- The training memory plan on the GPU: two training steps with the layers' outputs and input
// gradients in one device arena (cuDNN's pooling backward reads x and y, the other layers what
// they declare in backward_reads) give the outputs, gradients and BatchNorm statistics of the
// same model without it, bit for bit (deterministic mode). ----
TEST_F(CudaModels, TrainingPlanMatchesOwnBuffersOnTheGpu) {
  for (const char* arch : {"resnet18-cifar", "mnist-cnn"}) {
    SCOPED_TRACE(arch);
    TwinModels m(arch, 6);
    m.plain->set_training_plan(false);
    std::mt19937_64 rng(17);
    for (int step = 0; step < 2; ++step) {
      Tensor x(m.input(4)), dy({4, 10});
      fill_uniform(x, rng);
      fill_uniform(dy, rng);
      Tensor xg = x.to(Device::cuda(0)), dyg = dy.to(Device::cuda(0));
      std::vector<double> outputs[2];
      int i = 0;
      for (Model* model : {m.planned.get(), m.plain.get()}) {
        model->set_training(true);
        model->arena().zero_grad();
        outputs[i++] = model->forward(m.ctx, xg).to_vector();
        model->backward(m.ctx, dyg);
      }
      EXPECT_EQ(outputs[0], outputs[1]);
      EXPECT_EQ(m.planned->arena().grads().to_vector(), m.plain->arena().grads().to_vector());
      EXPECT_EQ(m.planned->arena().buffers().to_vector(), m.plain->arena().buffers().to_vector());
    }
    EXPECT_GT(m.planned->training_bytes_per_sample(), 0u);
  }
}

// ---- Steady state: after one warm-up pass, a whole training step (zero_grad, forward,
// cross-entropy, backward, gradient clipping, SGD step) and a scoring pass (eval forward, fused
// or not) allocate nothing and never wait for the device, so they can be captured in a CUDA
// graph in global mode (which rejects cudaMalloc, host synchronisation and work on the legacy
// stream), and the replay reproduces the eager run bit for bit (deterministic mode). ----
TEST_F(CudaModels, TrainingStepAndScoringPassCaptureInAGraph) {
#ifdef NSAL_WITH_CUDA
  Context ctx(Device::cuda(0));
  ctx.set_deterministic(true);
  auto model = make_model({"resnet18-cifar", 3, 10});
  model->build(Device::cuda(0), 3);
  std::mt19937_64 rng(15);
  Tensor x({8, 3, 32, 32});
  fill_uniform(x, rng);
  Tensor xg = x.to(Device::cuda(0));
  Tensor tg = Tensor::from_vector({0, 1, 2, 3, 4, 5, 6, 7}, {8}, DType::i32).to(Device::cuda(0));
  CrossEntropyLoss loss;
  cudaStream_t stream = ctx.gpu().handles->stream();

  // Runs `body` eagerly (after a warm-up), then captured and replayed; returns both results.
  auto eager_and_replay = [&](const std::function<void()>& body,
                              const std::function<std::vector<double>()>& result,
                              const std::function<void()>& reset) {
    reset();
    body();  // warm-up: algorithms chosen, buffers and workspace sized
    reset();
    body();
    ctx.synchronize();
    std::vector<double> eager = result();
    const size_t ws = ctx.workspace_bytes();
    reset();
    testing::CapturedGraph graph(stream, body);
    graph.replay();
    std::vector<double> replay = result();
    EXPECT_EQ(ctx.workspace_bytes(), ws) << "the captured pass grew the workspace";
    return std::make_pair(eager, replay);
  };

  // Training step: weights, momentum, running statistics and the step count move every step, so
  // each run starts from the same state.
  SgdOptions so;
  so.lr = 0.05f;
  Sgd sgd(model->arena(), so);
  Tensor params0 = model->arena().params().clone();
  Tensor buffers0 = model->arena().buffers().clone();
  Tensor* momentum = sgd.state().at(0).second;
  Tensor momentum0 = momentum->clone();
  model->set_training(true);
  auto step = eager_and_replay(
      [&] {
        sgd.zero_grad(ctx);
        loss.forward_async(ctx, model->forward(ctx, xg), tg);
        model->backward(ctx, loss.backward(ctx));
        sgd.clip_grad_norm(ctx, 1.0);
        sgd.step(ctx);
      },
      [&] {
        std::vector<double> r = model->arena().params().to_vector();
        r.push_back(loss.loss_value());
        return r;
      },
      [&] {
        model->arena().params().copy_from(params0);
        model->arena().buffers().copy_from(buffers0);
        momentum->copy_from(momentum0);
        sgd.set_steps_taken(0);
        ctx.synchronize();
      });
  EXPECT_TRUE(step.first == step.second) << "training step: the graph replay differs";
  EXPECT_TRUE(std::isfinite(step.first.back()));

  // Scoring pass: the outputs (logits and features) are poisoned before each run, so that the
  // replay has to write them.
  model->set_training(false);
  for (bool fused : {false, true}) {
    model->set_fused_inference(fused);
    const Tensor* logits = nullptr;
    auto poison = [&](const Tensor& t) {
      if (t.defined() && t.device().is_cuda())
        kernels::gpu::fill(ctx.gpu(), t.data<float>(), t.numel(), std::nanf(""));
    };
    auto score = eager_and_replay([&] { logits = &model->forward(ctx, xg); },
                                  [&] {
                                    std::vector<double> r = model->features().to_vector();
                                    const std::vector<double> l = logits->to_vector();
                                    r.insert(r.end(), l.begin(), l.end());
                                    return r;
                                  },
                                  [&] {
                                    poison(model->features());
                                    if (logits) poison(*logits);
                                    ctx.synchronize();
                                  });
    EXPECT_TRUE(score.first == score.second)
        << (fused ? "fused" : "unfused") << " scoring pass: the graph replay differs";
    for (double v : score.second)
      ASSERT_TRUE(std::isfinite(v)) << "the replay left a poisoned output";
  }
#endif
}

// A whole mnist-cnn training step (its dropout layers included) captured once and replayed three
// times, against three eager steps of a twin: each replay is the next step (new dropout masks
// from the device step counters, the optimizer's step count and momentum), bit for bit in the
// weights, buffers, optimizer state and dropout steps (deterministic mode).
TEST_F(CudaModels, ReplaysOfACapturedTrainingStepAreTheNextSteps) {
#ifdef NSAL_WITH_CUDA
  Context ctx(Device::cuda(0));
  ctx.set_deterministic(true);
  std::unique_ptr<Model> models[2] = {make_model({"mnist-cnn", 1, 10}),
                                      make_model({"mnist-cnn", 1, 10})};
  std::mt19937_64 rng(21);
  Tensor x({16, 1, 28, 28});
  fill_uniform(x, rng);
  Tensor xg = x.to(Device::cuda(0));
  std::vector<double> labels;
  for (int i = 0; i < 16; ++i)
    labels.push_back(i % 10);
  Tensor tg = Tensor::from_vector(labels, {16}, DType::i32).to(Device::cuda(0));
  std::unique_ptr<Sgd> opts[2];
  CrossEntropyLoss losses[2];
  for (int i = 0; i < 2; ++i) {
    models[i]->build(Device::cuda(0), 8);
    models[i]->set_training(true);
    opts[i] = std::make_unique<Sgd>(models[i]->arena(), SgdOptions{0.05f, 0.9f, 0.f, 5e-4f, false});
  }
  auto step = [&](int i) {
    opts[i]->zero_grad(ctx);
    losses[i].forward_async(ctx, models[i]->forward(ctx, xg), tg);
    models[i]->backward(ctx, losses[i].backward(ctx));
    opts[i]->step(ctx);
  };
  auto dropout_steps = [](Model& m) {
    std::vector<uint64_t> s;
    for (const auto& l : m.layers())
      if (auto* d = dynamic_cast<const Dropout*>(l.get())) s.push_back(d->step());
    return s;
  };
  for (int i = 0; i < 2; ++i)
    step(i);  // warm-up (plans, algorithms, workspaces, device counters): step 1 on both
  ctx.synchronize();
  ASSERT_FALSE(dropout_steps(*models[0]).empty()) << "the test needs dropout layers";
  testing::CapturedGraph graph(ctx.gpu().handles->stream(), [&] { step(1); });
  for (int k = 0; k < 3; ++k) {
    step(0);
    graph.replay();
  }
  ctx.synchronize();
  EXPECT_EQ(models[1]->arena().params().to_vector(), models[0]->arena().params().to_vector());
  EXPECT_EQ(models[1]->arena().buffers().to_vector(), models[0]->arena().buffers().to_vector());
  EXPECT_EQ(opts[1]->state()[0].second->to_vector(), opts[0]->state()[0].second->to_vector());
  EXPECT_EQ(opts[1]->steps_taken(), 4);
  EXPECT_EQ(opts[0]->steps_taken(), 4);
  EXPECT_EQ(dropout_steps(*models[1]), dropout_steps(*models[0]));
  for (uint64_t s : dropout_steps(*models[1]))
    EXPECT_EQ(s, 4u) << "each replay advanced the dropout step";
  EXPECT_TRUE(std::isfinite(losses[1].loss_value()));
#endif
}

}  // namespace
}  // namespace nsal
