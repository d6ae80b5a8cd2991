// The optimizers on the GPU: SGD (plain, momentum, Nesterov, dampening, weight decay), Adam and
// AdamW and gradient clipping against the CPU over several steps with changing gradients and a
// learning rate changed midway; and a step captured in a CUDA graph, replayed, against eager steps
// on a twin arena: each replay is the next step (the step count and learning rate live on the
// device), bit for bit.
//
// Tolerance against the CPU: both sides run the per-element rules of kernels/optim.h, but nvcc
// contracts multiply-adds into FMAs where the host compiler does not (a weight's last bit, which
// then stays), and Adam's bias corrections come from the device step count in double on the GPU
// and in float on the CPU, up to about 3e-6 relative apart at small steps (kernels/optim.h), so
// each Adam update (about lr = 1e-2) may differ by a few 1e-8. Allowed: 1e-6 relative plus
// 5e-7 absolute on the weights after five steps, about ten times what those differences can add
// up to and far below any wrong rule (a missing bias correction changes an update tenfold; weight
// decay moves a weight by 3e-4 per step, a halved learning rate by 5e-3).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "nn/optim/optimizer.h"
#include "tests/cuda_test_util.h"
#include "tests/gpu_skip.h"
#ifdef NSAL_WITH_CUDA
#include "kernels/cuda/gpu_handles.h"
#include "tests/cuda_graph_capture.h"
#endif

namespace nsal {
namespace {

// A parameter arena of two tensors on `device`, with the same weights on every device.
struct TestArena {
  ParamArena arena;
  Tensor w, gw, b, gb;
  explicit TestArena(Device device) {
    arena.add_param("fc.weight", {37, 29}, "linear", ParamRole::weight, &w, &gw);
    arena.add_param("fc.bias", {37}, "linear", ParamRole::bias, &b, &gb);
    arena.allocate(DType::f32, device);
    std::vector<double> v(static_cast<size_t>(arena.arena_size()));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = 0.3 * std::sin(0.7 * static_cast<double>(i) + 0.1);
    arena.params().copy_from(Tensor::from_vector(v, {arena.arena_size()}).to(device));
  }
  // Gradients of step `step`, the same on every device.
  void set_grads(int step) {
    std::vector<double> g(static_cast<size_t>(arena.arena_size()));
    for (size_t i = 0; i < g.size(); ++i)
      g[i] = std::cos(1.3 * static_cast<double>(i) + 2.0 * step);
    arena.grads().copy_from(Tensor::from_vector(g, {arena.arena_size()}).to(arena.device()));
  }
};

std::unique_ptr<Optimizer> make(const std::string& kind, ParamArena& arena) {
  if (kind.rfind("sgd", 0) == 0) {
    SgdOptions o;
    o.lr = 0.05f;
    o.momentum = kind == "sgd-plain" ? 0.0f : 0.9f;
    o.dampening = kind == "sgd-dampening" ? 0.25f : 0.0f;
    o.weight_decay = kind == "sgd-plain" ? 0.0f : 1e-2f;
    o.nesterov = kind == "sgd-nesterov";
    return std::make_unique<Sgd>(arena, o);
  }
  AdamOptions o;
  o.lr = 1e-2f;
  o.weight_decay = 0.1f;
  o.decoupled = kind == "adamw";
  return std::make_unique<Adam>(arena, o);
}

const char* const kKinds[] = {"sgd-plain",     "sgd-momentum", "sgd-nesterov",
                              "sgd-dampening", "adam",         "adamw"};

void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-6 * std::abs(want[i]) + 5e-7) << what << " element " << i;
}

TEST(CudaOptim, StepsMatchTheCpu) {
  NSAL_REQUIRE_GPU();
  Context cpu, gpu(Device::cuda(0));
  for (const char* kind : kKinds) {
    SCOPED_TRACE(kind);
    TestArena tc(Device::cpu()), tg(Device::cuda(0));
    auto oc = make(kind, tc.arena), og = make(kind, tg.arena);
    for (int step = 0; step < 5; ++step) {
      if (step == 3) {  // a schedule's change of learning rate
        oc->set_lr(oc->lr() * 0.5f);
        og->set_lr(og->lr() * 0.5f);
      }
      tc.set_grads(step);
      tg.set_grads(step);
      if (step == 1) {  // clipping: the norm and the factor on the device
        oc->clip_grad_norm(cpu, 2.0);
        og->clip_grad_norm(gpu, 2.0);
      }
      oc->step(cpu);
      og->step(gpu);
    }
    expect_close(tg.arena.params().to_vector(), tc.arena.params().to_vector(), "weights");
    for (size_t i = 0; i < oc->state().size(); ++i)
      expect_close(og->state()[i].second->to_vector(), oc->state()[i].second->to_vector(),
                   oc->state()[i].first);
    EXPECT_NEAR(og->last_grad_norm(), oc->last_grad_norm(), 1e-9 * oc->last_grad_norm());
    EXPECT_EQ(og->steps_taken(), 5);
    EXPECT_EQ(oc->steps_taken(), 5);
  }
}

// A step captured in a CUDA graph and replayed four times (the learning rate halved before the
// third replay) against four eager steps on a twin arena: the same weights and state bit for bit,
// and the device's step count says four. The gradients stay fixed, as a captured training step
// would recompute them.
TEST(CudaOptim, EachReplayOfACapturedStepIsTheNextStep) {
  NSAL_REQUIRE_GPU();
#ifdef NSAL_WITH_CUDA
  Context ctx(Device::cuda(0));
  const kernels::GpuExec ex = ctx.gpu();
  for (const char* kind : kKinds) {
    SCOPED_TRACE(kind);
    TestArena eager(Device::cuda(0)), graph(Device::cuda(0));
    eager.set_grads(0);
    graph.set_grads(0);
    auto oe = make(kind, eager.arena), og = make(kind, graph.arena);
    testing::CapturedGraph captured(ex.handles->stream(), [&] { og->step(ctx); });
    EXPECT_EQ(og->steps_taken(), 0) << "capturing runs nothing";
    for (int i = 0; i < 4; ++i) {
      if (i == 2) {
        oe->set_lr(oe->lr() * 0.5f);
        og->set_lr(og->lr() * 0.5f);
      }
      oe->step(ctx);
      captured.replay();
    }
    ctx.synchronize();
    EXPECT_EQ(graph.arena.params().to_vector(), eager.arena.params().to_vector());
    for (size_t i = 0; i < oe->state().size(); ++i)
      EXPECT_EQ(og->state()[i].second->to_vector(), oe->state()[i].second->to_vector())
          << oe->state()[i].first;
    EXPECT_EQ(og->steps_taken(), 4);
    EXPECT_EQ(oe->steps_taken(), 4);
  }
#endif
}

}  // namespace
}  // namespace nsal
