// The steady-state contract of kernels/cuda_ops.h: after one warm-up step, a whole training
// step (conv, BN, ReLU, max pool, global average pool, linear, cross-entropy, all backwards and
// a gradient norm) neither allocates nor synchronises, so it can be captured in a CUDA graph in
// global capture mode (which rejects cudaMalloc and host synchronisation), and the graph
// reproduces the eager step bit for bit in deterministic mode.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "tests/cuda_test_util.h"
#ifdef NSAL_WITH_CUDA
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpu_handles.h"
#include "tests/cuda_graph_capture.h"
#endif

namespace nsal {
namespace {

using testing::f32;
using testing::random_floats;
using testing::to_gpu;
using testing::to_host;
namespace gpu = kernels::gpu;

struct MiniNet {
  static constexpr int64_t n = 8, ci = 3, c = 8, hw = 8, classes = 10;
  kernels::ConvParams conv;
  kernels::PoolParams pool;
  Tensor x, labels, w, gamma, beta, rmean, rvar, wl, bl;                    // inputs, params
  Tensor y1, y2, y3, y4, f, logits, loss, wsum, smean, sinv, norm2;         // activations
  Tensor dlogits, df, dy4, dy3, dy2, dy1, dx, dw, dgamma, dbeta, dwl, dbl;  // gradients

  MiniNet() {
    conv.n = n;
    conv.c_in = ci;
    conv.c_out = c;
    conv.in[0] = conv.in[1] = hw;
    conv.kernel[0] = conv.kernel[1] = 3;
    conv.pad[0] = conv.pad[1] = 1;
    pool.n = n;
    pool.c = c;
    pool.in[0] = pool.in[1] = hw;
    pool.kernel[0] = pool.kernel[1] = 2;
    pool.stride[0] = pool.stride[1] = 2;
    const int64_t act = n * c * hw * hw, pooled = n * c * (hw / 2) * (hw / 2);
    x = to_gpu(random_floats(n * ci * hw * hw, 1));
    std::vector<int32_t> lab(n);
    for (int64_t i = 0; i < n; ++i)
      lab[i] = static_cast<int32_t>((i * 3) % classes);
    labels = to_gpu(lab);
    w = to_gpu(random_floats(conv.w_numel(), 2));
    gamma = to_gpu(random_floats(c, 3, 0.5f, 1.5f));
    beta = to_gpu(random_floats(c, 4));
    rmean = testing::gpu_zeros(c);
    rvar = testing::gpu_zeros(c);
    wl = to_gpu(random_floats(classes * c, 5));
    bl = to_gpu(random_floats(classes, 6));
    for (Tensor* t : {&y1, &y2, &y3, &dy3, &dy2, &dy1})
      *t = testing::gpu_zeros(act);
    for (Tensor* t : {&y4, &dy4})
      *t = testing::gpu_zeros(pooled);
    f = testing::gpu_zeros(n * c);
    df = testing::gpu_zeros(n * c);
    logits = testing::gpu_zeros(n * classes);
    dlogits = testing::gpu_zeros(n * classes);
    loss = testing::gpu_zeros(1);
    wsum = testing::gpu_zeros(1, DType::f64);
    norm2 = testing::gpu_zeros(1, DType::f64);
    smean = testing::gpu_zeros(c);
    sinv = testing::gpu_zeros(c);
    dx = testing::gpu_zeros(n * ci * hw * hw);
    dw = testing::gpu_zeros(conv.w_numel());
    dgamma = testing::gpu_zeros(c);
    dbeta = testing::gpu_zeros(c);
    dwl = testing::gpu_zeros(classes * c);
    dbl = testing::gpu_zeros(classes);
  }

  void step(const kernels::GpuExec& ex) {
    const int64_t s = hw * hw, sp = (hw / 2) * (hw / 2);
    for (Tensor* g : {&dw, &dgamma, &dbeta, &dwl, &dbl})
      gpu::fill(ex, f32(*g), g->numel(), 0.f);
    gpu::fill(ex, f32(rmean), c, 0.f);
    gpu::fill(ex, f32(rvar), c, 1.f);
    gpu::conv_forward(ex, conv, f32(x), f32(w), nullptr, f32(y1));
    gpu::batchnorm_forward_train(ex, n, c, s, f32(y1), f32(gamma), f32(beta), 0.1, 1e-5, f32(rmean),
                                 f32(rvar), f32(smean), f32(sinv), f32(y2));
    gpu::relu_forward(ex, n * c * s, f32(y2), f32(y3));
    gpu::pool_forward(ex, pool, f32(y3), f32(y4));
    gpu::global_avg_pool_forward(ex, n, c, sp, f32(y4), f32(f));
    gpu::linear_forward(ex, n, c, classes, f32(f), f32(wl), f32(bl), f32(logits));
    gpu::cross_entropy_forward(ex, n, classes, 1, f32(logits), labels.data<int32_t>(), nullptr,
                               -100, gpu::Reduction::mean, f32(loss), wsum.data<double>());
    gpu::cross_entropy_backward(ex, n, classes, 1, f32(logits), labels.data<int32_t>(), nullptr,
                                -100, gpu::Reduction::mean, wsum.data<double>(), 1.f, f32(dlogits));
    gpu::linear_backward_weight(ex, n, c, classes, f32(f), f32(dlogits), f32(dwl));
    gpu::linear_backward_bias(ex, n, classes, f32(dlogits), f32(dbl));
    gpu::linear_backward_data(ex, n, c, classes, f32(dlogits), f32(wl), f32(df));
    gpu::global_avg_pool_backward(ex, n, c, sp, f32(df), f32(dy4));
    gpu::pool_backward(ex, pool, f32(y3), f32(y4), f32(dy4), f32(dy3));
    gpu::relu_backward(ex, n * c * s, f32(y3), f32(dy3), f32(dy2));
    gpu::batchnorm_backward(ex, n, c, s, f32(y1), f32(dy2), f32(gamma), f32(smean), f32(sinv), 1e-5,
                            f32(dy1), f32(dgamma), f32(dbeta));
    gpu::conv_backward_filter(ex, conv, f32(x), f32(dy1), f32(dw));
    gpu::conv_backward_data(ex, conv, f32(dy1), f32(w), f32(dx));
    gpu::sum_squares(ex, f32(dw), dw.numel(), norm2.data<double>());
  }

  std::vector<std::vector<uint8_t>> results() const {
    std::vector<std::vector<uint8_t>> r;
    for (const Tensor* t : {&loss, &norm2, &dx, &dw, &dgamma, &dbeta, &dwl, &dbl, &rmean, &rvar}) {
      std::vector<uint8_t> bytes(t->nbytes());
      kernels::copy_bytes(bytes.data(), false, t->raw(), true, bytes.size());
      r.push_back(std::move(bytes));
    }
    return r;
  }
};

TEST(CudaGraph, TrainingStepCapturesAndReplaysBitwise) {
  NSAL_REQUIRE_GPU();
#ifdef NSAL_WITH_CUDA
  Context ctx(Device::cuda(0));
  ctx.set_deterministic(true);
  MiniNet net;
  kernels::GpuExec ex = ctx.gpu();
  net.step(ex);  // warm-up: algorithms chosen, workspace grown
  ctx.synchronize();
  auto eager = net.results();
  const size_t ws = ctx.workspace_bytes();

  testing::CapturedGraph graph(ex.handles->stream(), [&] { net.step(ex); });
  // Poison the outputs so that the replay has to write them.
  for (Tensor* t : {&net.dx, &net.dw, &net.dwl})
    gpu::fill(ex, f32(*t), t->numel(), -7.f);
  graph.replay();
  auto replay = net.results();

  EXPECT_EQ(ctx.workspace_bytes(), ws) << "the captured step grew the workspace";
  const char* names[] = {"loss",  "norm2", "dx",  "dw",           "dgamma",
                         "dbeta", "dwl",   "dbl", "running_mean", "running_var"};
  ASSERT_EQ(eager.size(), replay.size());
  for (size_t i = 0; i < eager.size(); ++i)
    EXPECT_EQ(eager[i], replay[i]) << names[i] << " differs between the eager and graph steps";
  float loss;
  std::memcpy(&loss, eager[0].data(), 4);
  EXPECT_TRUE(std::isfinite(loss));
#endif
}

}  // namespace
}  // namespace nsal
