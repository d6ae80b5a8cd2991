// cuDNN convolution on the GPU against the float64 reference (tests/gpu_reference.h).
//
// Tolerance, strict fp32: relative L2 error <= 1e-4 over the whole output. An fp32 FMA
// algorithm summing at most ~110 products per output lands near 1e-6; Winograd and FFT
// variants near 1e-5. TF32 rounds every input to a 10-bit mantissa, which gives ~4e-4, so the
// bound also shows that strict mode did not run on TF32 tensor cores.
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/bn_fold.h"
#include "tests/cuda_test_util.h"
#include "tests/gpu_reference.h"

namespace nsal {
namespace {

// A GPU test of this file: skips with the reason when no device answers.
class CudaConv : public testing::CudaTest {};

using testing::compare;
using testing::describe;
using testing::expect_close;
using testing::expect_rel_l2;
using testing::f32;
using testing::random_floats;
using testing::to_double;
using testing::to_gpu;
using testing::to_host;

constexpr double kStrictRelL2 = 1e-4;

kernels::ConvParams conv2d(int n, int ci, int co, int h, int w, int k, int stride, int pad,
                           int dil = 1, int groups = 1) {
  kernels::ConvParams p;
  p.spatial = 2;
  p.n = n;
  p.c_in = ci;
  p.c_out = co;
  p.groups = groups;
  p.in[0] = h;
  p.in[1] = w;
  for (int i = 0; i < 2; ++i) {
    p.kernel[i] = k;
    p.stride[i] = stride;
    p.pad[i] = pad;
    p.dilation[i] = dil;
  }
  return p;
}

kernels::ConvParams conv3d(int n, int ci, int co, int d, int k, int stride, int pad,
                           int groups = 1) {
  kernels::ConvParams p;
  p.spatial = 3;
  p.n = n;
  p.c_in = ci;
  p.c_out = co;
  p.groups = groups;
  for (int i = 0; i < 3; ++i) {
    p.in[i] = d + i;  // non-cubic
    p.kernel[i] = k;
    p.stride[i] = stride;
    p.pad[i] = pad;
  }
  return p;
}

std::vector<kernels::ConvParams> cases() {
  return {
      conv2d(2, 3, 8, 9, 9, 3, 1, 1),         // plain 3x3
      conv2d(2, 8, 16, 8, 8, 3, 2, 1),        // stride 2 (ResNet downsampling)
      conv2d(2, 8, 8, 8, 8, 1, 2, 0),         // 1x1 shortcut
      conv2d(2, 4, 6, 7, 10, 3, 1, 2, 2),     // dilation 2, non-square
      conv2d(2, 8, 12, 6, 6, 3, 1, 1, 1, 4),  // groups 4
      conv2d(2, 8, 8, 6, 6, 3, 1, 1, 1, 8),   // depthwise
      conv2d(1, 3, 4, 11, 11, 5, 3, 2),       // 5x5, stride 3
      conv3d(2, 3, 6, 5, 3, 1, 1),            // 3D 3x3x3
      conv3d(2, 4, 8, 6, 3, 2, 1, 2),         // 3D stride 2, groups 2
  };
}

struct ConvData {
  std::vector<float> x, w, b, dy, dw0, db0;
};
ConvData make_data(const kernels::ConvParams& p, uint64_t seed) {
  return {random_floats(p.x_numel(), seed),     random_floats(p.w_numel(), seed + 1),
          random_floats(p.c_out, seed + 2),     random_floats(p.y_numel(), seed + 3),
          random_floats(p.w_numel(), seed + 4), random_floats(p.c_out, seed + 5)};
}

TEST_F(CudaConv, ConvForwardBackwardMatchReference) {
  uint64_t seed = 100;
  for (const kernels::ConvParams& p : cases()) {
    SCOPED_TRACE(p.str());
    ConvData d = make_data(p, seed += 10);
    Tensor x = to_gpu(d.x), w = to_gpu(d.w), b = to_gpu(d.b), dy = to_gpu(d.dy);
    Tensor y = testing::gpu_nans(p.y_numel()), dx = testing::gpu_nans(p.x_numel());
    Tensor dw = to_gpu(d.dw0), db = to_gpu(d.db0);  // gradients accumulate onto these
    kernels::gpu::conv_forward(ex(), p, f32(x), f32(w), f32(b), f32(y));
    kernels::gpu::conv_backward_data(ex(), p, f32(dy), f32(w), f32(dx));
    kernels::gpu::conv_backward_filter(ex(), p, f32(x), f32(dy), f32(dw));
    kernels::gpu::conv_backward_bias(ex(), p, f32(dy), f32(db));
    sync();

    ref::Vec bd = to_double(d.b);
    expect_rel_l2(to_host(y), ref::conv_forward(p, to_double(d.x), to_double(d.w), &bd),
                  kStrictRelL2, "y");
    expect_rel_l2(to_host(dx), ref::conv_backward_data(p, to_double(d.dy), to_double(d.w)),
                  kStrictRelL2, "dx");
    ref::Vec dw_want = ref::conv_backward_filter(p, to_double(d.x), to_double(d.dy));
    for (size_t i = 0; i < dw_want.size(); ++i)
      dw_want[i] += d.dw0[i];
    expect_rel_l2(to_host(dw), dw_want, kStrictRelL2, "dw (accumulated)");
    ref::Vec db_want = ref::channel_sums(to_double(d.dy), p.n, p.c_out, p.out_spatial());
    for (size_t i = 0; i < db_want.size(); ++i)
      db_want[i] += d.db0[i];
    // Summed in double, rounded once, added to a float: a few float ulps.
    expect_close(to_host(db), db_want, 1e-5, 1e-5, "db (accumulated)");
    RecordProperty("algorithms", kernels::gpu::conv_algorithms(ex(), p));
  }
}

// Path-vs-path: a 3D convolution with depth 1 (kernel depth 1) is the 2D one.
TEST_F(CudaConv, Conv3dWithDepthOneEqualsConv2d) {
  kernels::ConvParams p2 = conv2d(2, 4, 6, 7, 7, 3, 1, 1);
  kernels::ConvParams p3 = p2;
  p3.spatial = 3;
  for (int i = 2; i > 0; --i) {
    p3.in[i] = p2.in[i - 1];
    p3.kernel[i] = p2.kernel[i - 1];
    p3.stride[i] = p2.stride[i - 1];
    p3.pad[i] = p2.pad[i - 1];
    p3.dilation[i] = p2.dilation[i - 1];
  }
  p3.in[0] = p3.kernel[0] = p3.stride[0] = p3.dilation[0] = 1;
  p3.pad[0] = 0;
  ASSERT_EQ(p3.y_numel(), p2.y_numel());
  ConvData d = make_data(p2, 7);
  Tensor x = to_gpu(d.x), w = to_gpu(d.w), y2 = testing::gpu_zeros(p2.y_numel()),
         y3 = testing::gpu_zeros(p3.y_numel());
  kernels::gpu::conv_forward(ex(), p2, f32(x), f32(w), nullptr, f32(y2));
  kernels::gpu::conv_forward(ex(), p3, f32(x), f32(w), nullptr, f32(y3));
  sync();
  // The two may run different algorithms: both within the strict bound of each other.
  expect_rel_l2(to_host(y3), to_double(to_host(y2)), kStrictRelL2, "conv3d(depth 1) vs conv2d");
}

// Deterministic mode: the same call twice gives the same bits (backward-filter and
// backward-data have non-deterministic algorithms that this mode excludes).
TEST_F(CudaConv, ConvDeterministicModeRepeatsBitwise) {
  ctx().set_deterministic(true);
  kernels::ConvParams p = conv2d(8, 16, 16, 16, 16, 3, 1, 1);
  ConvData d = make_data(p, 11);
  Tensor x = to_gpu(d.x), w = to_gpu(d.w), dy = to_gpu(d.dy);
  std::vector<float> first_dw, first_dx;
  for (int run = 0; run < 2; ++run) {
    Tensor dw = testing::gpu_zeros(p.w_numel()), dx = testing::gpu_zeros(p.x_numel());
    kernels::gpu::conv_backward_filter(ex(), p, f32(x), f32(dy), f32(dw));
    kernels::gpu::conv_backward_data(ex(), p, f32(dy), f32(w), f32(dx));
    sync();
    if (run == 0) {
      first_dw = to_host(dw);
      first_dx = to_host(dx);
    } else {
      EXPECT_EQ(0, std::memcmp(first_dw.data(), to_host(dw).data(), first_dw.size() * 4));
      EXPECT_EQ(0, std::memcmp(first_dx.data(), to_host(dx).data(), first_dx.size() * 4));
    }
  }
  RecordProperty("algorithms", kernels::gpu::conv_algorithms(ex(), p));
}

// TF32 is an option: it runs, it is close (10-bit mantissas: ~1e-3 relative), and it does not
// leak into strict mode through the algorithm cache.
TEST_F(CudaConv, ConvTf32ModeIsCloseAndSeparateFromStrict) {
  kernels::ConvParams p = conv2d(4, 32, 32, 12, 12, 3, 1, 1);
  ConvData d = make_data(p, 21);
  Tensor x = to_gpu(d.x), w = to_gpu(d.w), y = testing::gpu_zeros(p.y_numel());
  ref::Vec want = ref::conv_forward(p, to_double(d.x), to_double(d.w), nullptr);
  ctx().set_math_mode(MathMode::tf32);
  kernels::gpu::conv_forward(ex(), p, f32(x), f32(w), nullptr, f32(y));
  sync();
  testing::ErrorStats tf32 = compare(to_host(y), want);
  EXPECT_LE(tf32.rel_l2, 5e-3) << describe(tf32, to_host(y), want);
  RecordProperty("tf32_rel_l2", std::to_string(tf32.rel_l2));
  ctx().set_math_mode(MathMode::strict_fp32);
  kernels::gpu::conv_forward(ex(), p, f32(x), f32(w), nullptr, f32(y));
  sync();
  expect_rel_l2(to_host(y), want, kStrictRelL2, "strict after tf32");
}

// Inference fast path: y = act(conv(x) + bias + alpha2 z), fused by cuDNN where it can,
// against the unfused path and the reference. y starts as NaN: the fused call without a
// residual must not read it.
TEST_F(CudaConv, ConvBiasActivationFusedMatchesUnfused) {
  for (const kernels::ConvParams& p :
       {conv2d(4, 16, 16, 8, 8, 3, 1, 1), conv2d(4, 16, 32, 8, 8, 3, 2, 1)}) {
    SCOPED_TRACE(p.str());
    ConvData d = make_data(p, 31);
    std::vector<float> z = random_floats(p.y_numel(), 37);
    Tensor x = to_gpu(d.x), w = to_gpu(d.w), b = to_gpu(d.b), zt = to_gpu(z);
    ref::Vec bd = to_double(d.b);
    ref::Vec conv = ref::conv_forward(p, to_double(d.x), to_double(d.w), &bd);
    const float alpha2 = 0.75f;
    for (bool relu : {true, false})
      for (int residual = 0; residual < 3; ++residual) {  // none, separate z, z == y
        SCOPED_TRACE(std::string(relu ? "relu" : "identity") + " residual " +
                     std::to_string(residual));
        ref::Vec want = conv;
        for (size_t i = 0; i < want.size(); ++i) {
          if (residual) want[i] += alpha2 * static_cast<double>(z[i]);
          if (relu) want[i] = std::max(want[i], 0.0);
        }
        Tensor y_fused = residual == 2 ? to_gpu(z) : testing::gpu_nans(p.y_numel());
        Tensor y_plain = residual == 2 ? to_gpu(z) : testing::gpu_nans(p.y_numel());
        const float* zf = residual == 1 ? f32(zt) : residual == 2 ? f32(y_fused) : nullptr;
        const float* zp = residual == 1 ? f32(zt) : residual == 2 ? f32(y_plain) : nullptr;
        bool fused = kernels::gpu::conv_bias_act_forward(ex(), p, f32(x), f32(w), f32(b), zf,
                                                         alpha2, relu, f32(y_fused));
        kernels::gpu::conv_bias_act_forward_unfused(ex(), p, f32(x), f32(w), f32(b), zp, alpha2,
                                                    relu, f32(y_plain));
        sync();
        RecordProperty(
            std::string("fused_") + (relu ? "relu_" : "identity_") + std::to_string(residual),
            fused ? "cudnn" : "fallback");
        expect_rel_l2(to_host(y_fused), want, kStrictRelL2, "fused");
        expect_rel_l2(to_host(y_plain), want, kStrictRelL2, "unfused");
      }
  }
}

// Autotuning (Context::set_conv_autotune): cuDNN times the forward algorithms on the first call's
// data, in scratch, so the first call's result is still right, also when it blends into an
// output that holds the residual (z == y: the timing must not write y). Strict fp32 keeps to FMA
// algorithms, so the strict tolerance holds. The choice is recorded.
TEST_F(CudaConv, AutotunedForwardIsRightFromTheFirstCall) {
  ctx().set_conv_autotune(true);
  for (const kernels::ConvParams& p :
       {conv2d(8, 32, 32, 16, 16, 3, 1, 1), conv2d(8, 32, 64, 16, 16, 1, 2, 0)}) {
    SCOPED_TRACE(p.str());
    ConvData d = make_data(p, 51);
    std::vector<float> z = random_floats(p.y_numel(), 52);
    Tensor x = to_gpu(d.x), w = to_gpu(d.w), b = to_gpu(d.b);
    ref::Vec bd = to_double(d.b);
    ref::Vec want = ref::conv_forward(p, to_double(d.x), to_double(d.w), &bd);
    for (size_t i = 0; i < want.size(); ++i)
      want[i] += 0.5 * static_cast<double>(z[i]);
    Tensor y = to_gpu(z);  // the residual, blended in place on the first (timed) call
    kernels::gpu::conv_bias_act_forward_unfused(ex(), p, f32(x), f32(w), f32(b), f32(y), 0.5f,
                                                false, f32(y));
    sync();
    expect_rel_l2(to_host(y), want, kStrictRelL2, "autotuned, in place, first call");
    Tensor y2 = testing::gpu_nans(p.y_numel());
    kernels::gpu::conv_forward(ex(), p, f32(x), f32(w), f32(b), f32(y2));
    sync();
    expect_rel_l2(to_host(y2), ref::conv_forward(p, to_double(d.x), to_double(d.w), &bd),
                  kStrictRelL2, "autotuned, second call");
    RecordProperty("autotuned_algorithms_" + std::to_string(p.kernel[0]),
                   kernels::gpu::conv_algorithms(ex(), p));
  }
  ctx().set_conv_autotune(false);
}

// The backward directions autotuned (timed on the first call's own inputs, into scratch): the
// first call's dx and the filter gradient accumulated onto its earlier value are right, and so
// are the second call's (the kept algorithms).
TEST_F(CudaConv, AutotunedBackwardIsRightFromTheFirstCall) {
  ctx().set_conv_autotune(true);
  uint64_t seed = 60;
  for (const kernels::ConvParams& p :
       {conv2d(8, 32, 32, 16, 16, 3, 1, 1), conv2d(8, 32, 64, 16, 16, 3, 2, 1)}) {
    SCOPED_TRACE(p.str());
    ConvData d = make_data(p, seed += 10);
    Tensor x = to_gpu(d.x), w = to_gpu(d.w), dy = to_gpu(d.dy);
    const ref::Vec dx_want = ref::conv_backward_data(p, to_double(d.dy), to_double(d.w));
    const ref::Vec dw_ref = ref::conv_backward_filter(p, to_double(d.x), to_double(d.dy));
    for (const char* call : {"first call", "second call"}) {
      SCOPED_TRACE(call);
      Tensor dx = testing::gpu_nans(p.x_numel());
      Tensor dw = to_gpu(d.dw0);  // accumulates onto this
      kernels::gpu::conv_backward_data(ex(), p, f32(dy), f32(w), f32(dx));
      kernels::gpu::conv_backward_filter(ex(), p, f32(x), f32(dy), f32(dw));
      sync();
      expect_rel_l2(to_host(dx), dx_want, kStrictRelL2, "dx");
      ref::Vec dw_want = dw_ref;
      for (size_t i = 0; i < dw_want.size(); ++i)
        dw_want[i] += d.dw0[i];
      expect_rel_l2(to_host(dw), dw_want, kStrictRelL2, "dw (accumulated)");
    }
    RecordProperty("autotuned_backward_" + std::to_string(p.stride[0]),
                   kernels::gpu::conv_algorithms(ex(), p));
  }
  ctx().set_conv_autotune(false);
}

TEST_F(CudaConv, BnFoldOnGpuMatchesCpuAndFoldsCorrectly) {
  kernels::ConvParams p = conv2d(2, 8, 12, 6, 6, 3, 1, 1);
  ConvData d = make_data(p, 41);
  const int64_t per = p.w_numel() / p.c_out;
  std::vector<float> gamma = random_floats(12, 42), beta = random_floats(12, 43),
                     mean = random_floats(12, 44), var = random_floats(12, 45, 0.2f, 2.f);
  const double eps = 1e-5;
  std::vector<float> w_cpu(d.w.size()), b_cpu(12);
  kernels::cpu::bn_fold(12, per, d.w.data(), d.b.data(), gamma.data(), beta.data(), mean.data(),
                        var.data(), eps, w_cpu.data(), b_cpu.data());
  Tensor w = to_gpu(d.w), b = to_gpu(d.b), g = to_gpu(gamma), be = to_gpu(beta), m = to_gpu(mean),
         v = to_gpu(var);
  Tensor wf = testing::gpu_nans(d.w.size()), bf = testing::gpu_nans(12);
  kernels::gpu::bn_fold(ex(), 12, per, f32(w), f32(b), f32(g), f32(be), f32(m), f32(v), eps,
                        f32(wf), f32(bf));
  sync();
  // The same per-channel function on both sides; nvcc may contract a multiply-add into an FMA
  // (in double), which can move the rounded float by one ulp at most.
  auto ulps = [](float f1, float f2) {
    int32_t ia, ib;
    std::memcpy(&ia, &f1, 4);
    std::memcpy(&ib, &f2, 4);
    return std::abs(static_cast<int64_t>(ia) - ib);
  };
  std::vector<float> w_gpu = to_host(wf), b_gpu = to_host(bf);
  for (size_t i = 0; i < w_gpu.size(); ++i)
    ASSERT_LE(ulps(w_gpu[i], w_cpu[i]), 1) << "w[" << i << "] " << w_gpu[i] << " vs " << w_cpu[i];
  for (size_t i = 0; i < b_gpu.size(); ++i)
    ASSERT_LE(ulps(b_gpu[i], b_cpu[i]), 1) << "b[" << i << "]";

  // conv with the folded weights == BN_eval(conv(x, w) + b).
  Tensor x = to_gpu(d.x), y = testing::gpu_nans(p.y_numel());
  kernels::gpu::conv_bias_act_forward(ex(), p, f32(x), f32(wf), f32(bf), nullptr, 0.f, false,
                                      f32(y));
  sync();
  ref::Vec bd = to_double(d.b);
  ref::Vec want = ref::bn_eval(ref::conv_forward(p, to_double(d.x), to_double(d.w), &bd), p.n,
                               p.c_out, p.out_spatial(), to_double(gamma), to_double(beta),
                               to_double(mean), to_double(var), eps);
  expect_rel_l2(to_host(y), want, kStrictRelL2, "folded conv vs conv + BN");
}

TEST_F(CudaConv, ConvRejectsBadShapesBeforeLaunch) {
  kernels::ConvParams p = conv2d(2, 6, 8, 5, 5, 3, 1, 1, 1, 4);  // 6 % 4 != 0
  Tensor t = testing::gpu_zeros(1024);
  EXPECT_THROW(kernels::gpu::conv_forward(ex(), p, f32(t), f32(t), nullptr, f32(t)), ShapeError);
}

}  // namespace
}  // namespace nsal
