// The bf16 channels-last inference path on the GPU (nn/fuse.h, MathMode::bf16) against the
// CPU's, which rounds at the same points (tests/test_bf16_inference.cpp checks that one against
// its definition): the own kernels bit for bit, one conv + BN unit of each kind, whole
// resnet18-cifar and resnet18-3d.
//
// Tolerances. The layout change, the epilogue and the pooling are the same per-element
// functions on both backends (kernels/channels_last.h): bit for bit. A convolution on the bf16
// path differs from the CPU's only in its float32 sums (cuDNN's order on tensor cores against
// im2col + BLAS or Winograd, ~1e-6 relative): after rounding to bf16 the outputs agree except where
// a sum lies that close to a rounding boundary, by one bf16 step (2^-8 relative); where cuDNN does
// not fuse conv + bias + activation, the unfused fallback rounds the convolution before adding
// the bias and residual, a second rounding of up to half a step of the convolution's value
// (which may be larger than the output's where the bias cancels it), and cuDNN may apply the
// residual and the bias as further passes over the bf16 output. One unit: each element within
// two bf16 steps of the larger of its value and the output's RMS (a simulation of three
// roundings reached 1.03 steps), 1e-2 relative L2. Whole
// models: these differences pass through 20 units, plus the linear layer's bf16 GEMM inputs on the
// GPU (float32 on the CPU): 1e-2 relative L2 on the logits against the CPU's bf16 path, 2e-2
// against float32 (the CPU's bf16 path is 1.3e-3 from float32 on these models:
// bf16_cpu_logits_rel_l2).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "kernels/bf16.h"
#include "kernels/cpu/channels_last_cpu.h"
#include "nn/fuse.h"
#include "nn/models/registry.h"
#include "nn/models/resnet_cifar.h"
#include "tests/cuda_compare.h"
#include "tests/cuda_test_util.h"
#include "tests/fused_test_util.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_match;
using testing::fill_uniform;
using testing::init_buffers;
using testing::l2;

class CudaBf16 : public testing::CudaTest {};

std::vector<uint16_t> host_bits(const Tensor& t) {
  return testing::to_host<uint16_t>(t);
}

TEST_F(CudaBf16, LayoutEpilogueAndPoolingKernelsMatchTheCpuBitForBit) {
  const int64_t n = 3, c = 70, s = 33;  // c and s not multiples of a warp
  std::vector<float> x = testing::random_floats(static_cast<size_t>(n * c * s), 1, -3.f, 3.f);
  x[5] = std::nanf("");
  x[6] = std::numeric_limits<float>::infinity();
  x[7] = 3.4e38f;  // rounds to infinity
  Tensor xg = testing::to_gpu(x);
  Tensor yg({n * c * s}, DType::bf16, Device::cuda(0));
  kernels::gpu::to_channels_last_bf16(ex(), xg.data<float>(), n, c, s, yg.data<uint16_t>());
  std::vector<uint16_t> want(x.size());
  kernels::cpu::to_channels_last_bf16(x.data(), n, c, s, want.data());
  EXPECT_EQ(host_bits(yg), want);

  // Epilogue in place on y (N, S, C), with and without residual and bias.
  std::vector<uint16_t> res(want.size()), bias(static_cast<size_t>(c));
  std::mt19937_64 rng(2);
  std::normal_distribution<float> g(0.f, 1.f);
  for (uint16_t& v : res)
    v = kernels::to_bf16(g(rng));
  for (uint16_t& v : bias)
    v = kernels::to_bf16(g(rng));
  Tensor rg = testing::to_gpu(res), bg = testing::to_gpu(bias);
  std::vector<float> conv(want.size());  // y as float32 in (N, C, S), the CPU op's input
  kernels::cpu::from_channels_last_bf16(want.data(), n, c, s, conv.data());
  for (bool relu : {false, true})
    for (bool with : {false, true}) {
      SCOPED_TRACE(std::string(relu ? "relu" : "identity") + (with ? " residual+bias" : ""));
      Tensor y = testing::to_gpu(want);
      kernels::gpu::bias_residual_act_channels_last_bf16(
          ex(), y.data<uint16_t>(), with ? rg.data<uint16_t>() : nullptr,
          with ? bg.data<uint16_t>() : nullptr, relu, n, c, s);
      std::vector<uint16_t> cpu(want.size());
      kernels::cpu::conv_epilogue_channels_last_bf16(conv.data(), with ? res.data() : nullptr,
                                                     with ? bias.data() : nullptr, relu, n, c, s,
                                                     cpu.data());
      EXPECT_EQ(host_bits(y), cpu);
    }

  Tensor pooled = testing::gpu_nans(static_cast<size_t>(n * c));
  kernels::gpu::global_avg_pool_channels_last_bf16(ex(), rg.data<uint16_t>(), n, s, c,
                                                   pooled.data<float>());
  std::vector<float> cpu_pooled(static_cast<size_t>(n * c));
  kernels::cpu::global_avg_pool_channels_last_bf16(res.data(), n, s, c, cpu_pooled.data());
  EXPECT_EQ(testing::to_host<float>(pooled), cpu_pooled);
}

// One conv + BN unit on both backends: 3x3 stride 1 and 2, 1x1 stride 2 (a ResNet shortcut),
// groups, 2D and 3D, with and without residual and ReLU (tolerance: top of the file). Returns
// whether cuDNN's fused kernel ran.
bool check_unit(int spatial, int64_t kernel, int64_t stride, int64_t groups, bool relu,
                bool residual) {
  SCOPED_TRACE(std::to_string(spatial) + "D k" + std::to_string(kernel) + " s" +
               std::to_string(stride) + " g" + std::to_string(groups) + (relu ? " relu" : "") +
               (residual ? " residual" : ""));
  const int64_t cin = 16, cout = 32, pad = kernel / 2;
  ConvOptions o = spatial == 2
                      ? ConvOptions::make2d(cin, cout, kernel, stride, pad, 1, groups, false)
                      : ConvOptions::make3d(cin, cout, kernel, stride, pad, 1, groups, false);
  Context cctx, gctx(Device::cuda(0));
  cctx.set_math_mode(MathMode::bf16);
  gctx.set_math_mode(MathMode::bf16);
  testing::ConvBnLayers cpu(spatial, o), gpu(spatial, o, Device::cuda(0));
  cpu.set_training(false);
  gpu.set_training(false);
  std::mt19937_64 rng(static_cast<uint64_t>(spatial * 100 + kernel * 10 + stride + groups));
  fill_uniform(cpu.arena.params(), rng);
  init_buffers(cpu.arena, rng);
  gpu.arena.params().copy_from(cpu.arena.params());
  gpu.arena.buffers().copy_from(cpu.arena.buffers());
  const Shape in = spatial == 2 ? Shape{4, cin, 15, 12} : Shape{2, cin, 7, 9, 6};
  Tensor x(in);
  fill_uniform(x, rng);
  Tensor x16c, x16g;
  to_channels_last_bf16(cctx, x, x16c);
  to_channels_last_bf16(gctx, x.to(Device::cuda(0)), x16g);
  const Shape ys = to_channels_last_shape(cpu.conv.output_shape(in));
  Tensor rf(ys);
  fill_uniform(rf, rng);
  Tensor rc = Tensor::from_vector(rf.to_vector(), ys, DType::bf16);
  Tensor rg = rc.to(Device::cuda(0));
  ConvBnUnit uc(&cpu.conv, &cpu.bn), ug(&gpu.conv, &gpu.bn);
  FoldScratch sc, sg;
  const std::vector<double> want =
      uc.forward_bf16(cctx, x16c, residual ? &rc : nullptr, relu, sc).to_vector();
  const std::vector<double> got =
      ug.forward_bf16(gctx, x16g, residual ? &rg : nullptr, relu, sg).to_vector();
  EXPECT_EQ(got.size(), want.size());
  double ms = 0;
  for (double v : want)
    ms += v * v;
  const double rms = std::sqrt(ms / static_cast<double>(want.size()));
  int beyond = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i)
    beyond += !(std::abs(got[i] - want[i]) <= (std::abs(want[i]) + rms) * 0x1p-6);
  EXPECT_EQ(beyond, 0) << "elements more than two bf16 steps of max(|value|, rms) apart";
  expect_match(got, want, l2(1e-2), "bf16 unit, GPU vs CPU");
  return ug.fused_kernel();
}

TEST_F(CudaBf16, ConvBnUnitMatchesTheCpuPath) {
  int fused = 0;
  for (int spatial : {2, 3}) {
    fused += check_unit(spatial, 3, 1, 1, true, false);
    fused += check_unit(spatial, 3, 1, 1, true, true);
    fused += check_unit(spatial, 3, 2, 1, true, false);
    fused += check_unit(spatial, 1, 2, 1, false, false);
  }
  fused += check_unit(2, 3, 1, 4, false, true);
  RecordProperty("bf16_units_in_cudnn_fused_kernel", std::to_string(fused) + " of 9");
}

// Whole models (tolerance: top of the file).
TEST_F(CudaBf16, ResNetsMatchTheCpuPath) {
  for (int spatial : {2, 3}) {
    const std::string arch = spatial == 2 ? "resnet18-cifar" : "resnet18-3d";
    SCOPED_TRACE(arch);
    const int64_t in_channels = spatial == 2 ? 3 : 1;
    auto mc = make_model({arch, in_channels, 10}), mg = make_model({arch, in_channels, 10});
    mc->build(Device::cpu(), 7);
    mg->build(Device::cuda(0), 7);
    std::mt19937_64 rng(15);
    init_buffers(mc->arena(), rng);
    mg->arena().buffers().copy_from(mc->arena().buffers());
    Shape in{spatial == 2 ? 8 : 2};
    for (int64_t d : mc->input_shape())
      in.push_back(d);
    Tensor x(in);
    fill_uniform(x, rng);
    Tensor xg = x.to(Device::cuda(0));
    Context cctx, gctx(Device::cuda(0));
    mc->set_training(false);
    mg->set_training(false);
    const std::vector<double> f32 = mc->forward(cctx, x).to_vector();
    cctx.set_math_mode(MathMode::bf16);
    gctx.set_math_mode(MathMode::bf16);
    mc->set_fused_inference(true);
    mg->set_fused_inference(true);
    const std::vector<double> cpu = mc->forward(cctx, x).to_vector();
    const std::vector<double> gpu = mg->forward(gctx, xg).to_vector();
    expect_match(gpu, cpu, l2(1e-2), "bf16 logits, GPU vs CPU bf16 path");
    expect_match(gpu, f32, l2(2e-2), "bf16 logits, GPU vs CPU float32");
    expect_match(mg->features(), mc->features(), l2(1e-2), "bf16 pooled features");
    auto* resnet = dynamic_cast<ResNetCifar*>(mg.get());
    ASSERT_NE(resnet, nullptr);
    RecordProperty(spatial == 2 ? "bf16_fused_kernels_2d" : "bf16_fused_kernels_3d",
                   std::to_string(resnet->fused_kernels_last_forward()) + " of " +
                       std::to_string(resnet->fused_units()));
    // Deterministic on the GPU too.
    EXPECT_EQ(mg->forward(gctx, xg).to_vector(), gpu);
  }
}

}  // namespace
}  // namespace nsal
