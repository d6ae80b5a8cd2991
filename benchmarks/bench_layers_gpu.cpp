// GPU layer benchmark at ResNet-18 (CIFAR) shapes, batch 256: every op of kernels/cuda_ops.h
// that a training or scoring step runs. Each op is validated against a float64 host
// computation on sampled elements before it is timed, then warmed up and repeated; the table
// gives the median time, TFLOP/s (convolutions, linear) or GB/s (the rest, counting each tensor
// read or written once: the minimum traffic), and the fraction of this GPU's peak measured in the
// same run for the row's math: a large cuBLAS GEMM in strict fp32, in TF32, and with bf16 inputs
// (fp32 accumulation) for the fp32, tf32 and bf16 rows (bf16 rows of float32 tensors run their
// convolutions as TF32, so their fraction of the bf16 GEMM understates them), or of its copy
// bandwidth (a large device-to-device copy) for the memory-bound ops. The data of small shapes
// can stay in L2, so a fraction of copy bandwidth above 100% says that.
//
//   bench_layers_gpu [out.csv]      (default bench_layers_gpu.csv)
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "benchmarks/bench_output.h"
#include "benchmarks/gpu_bench_skip.h"
#include "kernels/backend_info.h"
#include "kernels/channels_last.h"
#include "kernels/cuda_ops.h"
#include "kernels/memory.h"
#include "nn/context.h"
#ifdef NSAL_WITH_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/check.h"
#include "kernels/cuda/gpu_handles.h"
#endif

namespace nsal::bench {
namespace {

#ifdef NSAL_WITH_CUDA
namespace gpu = kernels::gpu;

// Host data with a fast generator (uniform in [-1, 1)), and its device copy.
struct Buffer {
  std::vector<float> host;
  Tensor dev;
  float* p() const { return dev.data<float>(); }
};
Buffer make_buffer(int64_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  Buffer b{std::vector<float>(static_cast<size_t>(n)), Tensor()};
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& v : b.host) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    v = lo + (hi - lo) * static_cast<float>(s >> 40) / 16777216.f;
  }
  b.dev = Tensor({n}, DType::f32, Device::cuda(0), "benchmark buffer");
  kernels::copy_bytes(b.dev.raw(), true, b.host.data(), false, b.host.size() * 4);
  return b;
}
std::vector<float> download(const float* p, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  kernels::copy_bytes(v.data(), false, p, true, v.size() * 4);
  return v;
}

struct Row {
  std::string op, shape, math;
  double ms = 0, tflops = 0, gbs = 0, frac = 0;
  std::string note;
};

class Bench {
 public:
  Bench() : ctx_(Device::cuda(0)) {
    stream_ = ctx_.gpu().handles->stream();
    NSAL_CUDA_CHECK(cudaEventCreate(&a_));
    NSAL_CUDA_CHECK(cudaEventCreate(&b_));
  }
  ~Bench() {
    cudaEventDestroy(a_);
    cudaEventDestroy(b_);
  }
  Context& ctx() { return ctx_; }
  kernels::GpuExec ex() { return ctx_.gpu(); }

  // Median milliseconds of f (queued on the context's stream), after warm-up; about 0.3 s of
  // repetitions, between 5 and 50.
  double median_ms(const std::function<void()>& f) {
    for (int i = 0; i < 3; ++i)
      f();
    ctx_.synchronize();
    std::vector<float> t;
    float first = time_once(f);
    int reps = std::clamp(static_cast<int>(300.0 / std::max(first, 0.001f)), 5, 50);
    t.push_back(first);
    for (int i = 1; i < reps; ++i)
      t.push_back(time_once(f));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }

  void add(Row r) {
    const double peak = r.math == "tf32"   ? peak_tf32_
                        : r.math == "bf16" ? peak_bf16_
                                           : peak_tflops_;
    if (r.tflops > 0 && peak > 0) r.frac = r.tflops / peak;
    if (r.gbs > 0 && peak_gbs_ > 0) r.frac = r.gbs / peak_gbs_;
    fmt::print("{:<34} {:<30} {:<5} {:>9.4f} {:>8} {:>8} {:>6.1f}%  {}\n", r.op, r.shape, r.math,
               r.ms, r.tflops > 0 ? fmt::format("{:.2f}", r.tflops) : "",
               r.gbs > 0 ? fmt::format("{:.0f}", r.gbs) : "", 100 * r.frac, r.note);
    std::fflush(stdout);
    rows_.push_back(std::move(r));
  }
  void set_peaks(double tflops, double tf32, double bf16, double gbs) {
    peak_tflops_ = tflops;
    peak_tf32_ = tf32;
    peak_bf16_ = bf16;
    peak_gbs_ = gbs;
  }
  const std::vector<Row>& rows() const { return rows_; }

 private:
  float time_once(const std::function<void()>& f) {
    NSAL_CUDA_CHECK(cudaEventRecord(a_, stream_));
    f();
    NSAL_CUDA_CHECK(cudaEventRecord(b_, stream_));
    NSAL_CUDA_CHECK(cudaEventSynchronize(b_));
    float ms = 0;
    NSAL_CUDA_CHECK(cudaEventElapsedTime(&ms, a_, b_));
    return ms;
  }

  Context ctx_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t a_ = nullptr, b_ = nullptr;
  double peak_tflops_ = 0, peak_tf32_ = 0, peak_bf16_ = 0, peak_gbs_ = 0;
  std::vector<Row> rows_;
};

// Throws with the op's name when a sampled element is off by more than rtol * scale (scale:
// the sum of the magnitudes of the terms, or |want| for single values).
void validate(const std::string& what, double got, double want, double rtol, double scale = 0) {
  if (scale <= 0) scale = 1e-3 + std::abs(want);
  if (!(std::abs(got - want) <= rtol * scale))
    throw Error(fmt::format("{}: validation failed: got {} want {} (tolerance {} of {})", what, got,
                            want, rtol, scale));
}

constexpr int64_t kBatch = 256;

// ---- peaks ----------------------------------------------------------------------------------
void peaks(Bench& B) {
  const int64_t m = 8192;
  Buffer a = make_buffer(m * m, 1), b = make_buffer(m * m, 2), c = make_buffer(m * m, 3);
  auto sgemm = [&] {
    gpu::gemm(B.ex(), false, false, m, m, m, 1.f, a.p(), m, b.p(), m, 0.f, c.p(), m);
  };
  sgemm();
  B.ctx().synchronize();
  {  // C[0][0] and C[m-1][5] against float64
    std::vector<float> cv = download(c.p(), m * m);
    for (auto [i, j] : {std::pair<int64_t, int64_t>{0, 0}, {m - 1, 5}}) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < m; ++k) {
        double t = static_cast<double>(a.host[i * m + k]) * b.host[k * m + j];
        s += t;
        mag += std::abs(t);
      }
      validate("sgemm", cv[i * m + j], s, 1e-5, mag);
    }
  }
  double ms = B.median_ms(sgemm);
  double tflops = 2.0 * m * m * m / (ms * 1e9);
  B.ctx().set_math_mode(MathMode::tf32);
  double ms_tf32 = B.median_ms(sgemm);
  B.ctx().set_math_mode(MathMode::bf16);
  double ms_bf16 = B.median_ms(sgemm);
  B.ctx().set_math_mode(MathMode::strict_fp32);
  // Copy bandwidth: 1 GiB device to device (read + write).
  const int64_t n = int64_t{1} << 28;
  Tensor src({n}, DType::f32, Device::cuda(0)), dst({n}, DType::f32, Device::cuda(0));
  cudaStream_t s = B.ex().handles->stream();
  double ms_copy = B.median_ms([&] {
    NSAL_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), n * 4, cudaMemcpyDeviceToDevice, s));
  });
  double gbs = 2.0 * n * 4 / (ms_copy * 1e6);
  const double tf32 = 2.0 * m * m * m / (ms_tf32 * 1e9), bf16 = 2.0 * m * m * m / (ms_bf16 * 1e9);
  B.add({"peak: sgemm 8192^3", "", "fp32", ms, tflops, 0, 0, "reference for fp32 rows"});
  B.add({"peak: sgemm 8192^3", "", "tf32", ms_tf32, tf32, 0, 0, "reference for tf32 rows"});
  B.add({"peak: gemm 8192^3, bf16 inputs", "", "bf16", ms_bf16, bf16, 0, 0,
         "reference for bf16 rows"});
  B.add({"peak: device copy 1 GiB", "", "", ms_copy, 0, gbs, 0, "reference for GB/s fractions"});
  B.set_peaks(tflops, tf32, bf16, gbs);
}

// ---- convolutions ---------------------------------------------------------------------------
struct ConvShape {
  const char* name;
  int ci, co, hw, k, stride;
};
const ConvShape kConvs[] = {
    {"conv1", 3, 64, 32, 3, 1},
    {"layer1.x.conv", 64, 64, 32, 3, 1},
    {"layer2.0.conv1", 64, 128, 32, 3, 2},
    {"layer2.x.conv", 128, 128, 16, 3, 1},
    {"layer2.0.shortcut", 64, 128, 32, 1, 2},
    {"layer3.0.conv1", 128, 256, 16, 3, 2},
    {"layer3.x.conv", 256, 256, 8, 3, 1},
    {"layer3.0.shortcut", 128, 256, 16, 1, 2},
    {"layer4.0.conv1", 256, 512, 8, 3, 2},
    {"layer4.x.conv", 512, 512, 4, 3, 1},
    {"layer4.0.shortcut", 256, 512, 8, 1, 2},
};

kernels::ConvParams params(const ConvShape& c) {
  kernels::ConvParams p;
  p.n = kBatch;
  p.c_in = c.ci;
  p.c_out = c.co;
  p.in[0] = p.in[1] = c.hw;
  p.kernel[0] = p.kernel[1] = c.k;
  p.stride[0] = p.stride[1] = c.stride;
  p.pad[0] = p.pad[1] = c.k / 2;
  return p;
}

// Float64 conv output element yi from host data; *mag receives the sum of |terms|.
double conv_at(const kernels::ConvParams& p, const std::vector<float>& x,
               const std::vector<float>& w, int64_t yi, double* mag) {
  const int64_t ow = p.out(1), oh = p.out(0);
  int64_t r = yi;
  const int ox = static_cast<int>(r % ow);
  r /= ow;
  const int oy = static_cast<int>(r % oh);
  r /= oh;
  const int oc = static_cast<int>(r % p.c_out);
  const int64_t b = r / p.c_out;
  double s = 0;
  *mag = 0;
  for (int ic = 0; ic < p.c_in; ++ic)
    for (int ky = 0; ky < p.kernel[0]; ++ky)
      for (int kx = 0; kx < p.kernel[1]; ++kx) {
        int iy = oy * p.stride[0] - p.pad[0] + ky, ix = ox * p.stride[1] - p.pad[1] + kx;
        if (iy < 0 || ix < 0 || iy >= p.in[0] || ix >= p.in[1]) continue;
        double t = static_cast<double>(x[((b * p.c_in + ic) * p.in[0] + iy) * p.in[1] + ix]) *
                   w[((int64_t{oc} * p.c_in + ic) * p.kernel[0] + ky) * p.kernel[1] + kx];
        s += t;
        *mag += std::abs(t);
      }
  return s;
}

// The bf16 path of fused inference under bf16 math (docs/cuda-backend.md): bfloat16 NHWC data and
// weights, fp32 accumulation, bias + ReLU fused. Validated at three outputs against the float64
// convolution of the unrounded data: rounding x, w and the bias to bf16 moves each term by at
// most 2^-8 of its size and the output's rounding adds 2^-9 of it, so 1e-2 of the sum of |terms|.
void conv_bf16_channels_last(Bench& B, const ConvShape& c, const kernels::ConvParams& p,
                             const std::string& shape, const Buffer& x, const Buffer& w,
                             const Buffer& b) {
  const int64_t s_in = int64_t{c.hw} * c.hw, s_out = int64_t{p.out(0)} * p.out(1);
  Tensor x16({p.x_numel()}, DType::bf16, Device::cuda(0)),
      w16({p.w_numel()}, DType::bf16, Device::cuda(0)),
      b16({p.c_out}, DType::bf16, Device::cuda(0)),
      y16({p.y_numel()}, DType::bf16, Device::cuda(0));
  gpu::to_channels_last_bf16(B.ex(), x.p(), kBatch, p.c_in, s_in, x16.data<uint16_t>());
  gpu::to_channels_last_bf16(B.ex(), w.p(), p.c_out, p.c_in, int64_t{c.k} * c.k,
                             w16.data<uint16_t>());
  gpu::to_channels_last_bf16(B.ex(), b.p(), 1, p.c_out, 1, b16.data<uint16_t>());
  auto run = [&] {
    return gpu::conv_bias_act_forward_bf16(B.ex(), p, x16.data<uint16_t>(), w16.data<uint16_t>(),
                                           b16.data<uint16_t>(), nullptr, true,
                                           y16.data<uint16_t>());
  };
  const bool fused = run();
  B.ctx().synchronize();
  std::vector<uint16_t> bits(static_cast<size_t>(p.y_numel()));
  kernels::copy_bytes(bits.data(), false, y16.raw(), true, bits.size() * sizeof(uint16_t));
  const std::string name = fmt::format("conv+bias+relu bf16 NHWC {}", c.name);
  for (int64_t t : {int64_t{0}, p.y_numel() / 3, p.y_numel() - 1}) {
    const int64_t r = kernels::channels_first_index(t, p.c_out, s_out);  // NCHW index
    const int64_t oc = (r / s_out) % p.c_out;
    double mag, want = conv_at(p, x.host, w.host, r, &mag);
    want = std::max(0.0, want + b.host[static_cast<size_t>(oc)]);
    validate(name, kernels::from_bf16(bits[static_cast<size_t>(t)]), want, 1e-2,
             mag + std::abs(b.host[static_cast<size_t>(oc)]) + 1e-3);
  }
  const double ms = B.median_ms([&] { run(); });
  B.add({name, shape, "bf16", ms, 2.0 * p.macs() / (ms * 1e9), 0, 0,
         fused ? "cudnn fused" : "fallback (unfused)"});
}

void convolutions(Bench& B) {
  for (const ConvShape& c : kConvs) {
    kernels::ConvParams p = params(c);
    const std::string shape =
        fmt::format("{}x{}x{}x{} k{} s{} ->{}", kBatch, c.ci, c.hw, c.hw, c.k, c.stride, c.co);
    Buffer x = make_buffer(p.x_numel(), 10), w = make_buffer(p.w_numel(), 11),
           dy = make_buffer(p.y_numel(), 12), b = make_buffer(p.c_out, 13);
    Tensor y({p.y_numel()}, DType::f32, Device::cuda(0)),
        dx({p.x_numel()}, DType::f32, Device::cuda(0)),
        dw({p.w_numel()}, DType::f32, Device::cuda(0));
    const double flops = 2.0 * p.macs();
    for (MathMode m : {MathMode::strict_fp32, MathMode::tf32}) {
      B.ctx().set_math_mode(m);
      // Of the sum of |terms|: fp32 FMA ~1e-7 (Winograd/FFT up to ~1e-5), TF32 at most ~1e-3
      // (10-bit mantissas). Strictness itself is tested in tests/test_cuda_conv.cpp.
      const double tol = m == MathMode::strict_fp32 ? 5e-5 : 3e-3;
      gpu::conv_forward(B.ex(), p, x.p(), w.p(), nullptr, y.data<float>());
      B.ctx().synchronize();
      std::vector<float> yv = download(y.data<float>(), p.y_numel());
      for (int64_t yi : {int64_t{0}, p.y_numel() / 3, p.y_numel() - 1}) {
        double mag, want = conv_at(p, x.host, w.host, yi, &mag);
        validate(c.name, yv[yi], want, tol, mag);
      }
      double ms = B.median_ms(
          [&] { gpu::conv_forward(B.ex(), p, x.p(), w.p(), nullptr, y.data<float>()); });
      std::string algos = gpu::conv_algorithms(B.ex(), p);
      B.add({fmt::format("conv fwd {}", c.name), shape, math_mode_name(m), ms, flops / (ms * 1e9),
             0, 0, algos.substr(0, algos.find(';'))});
      if (m != MathMode::strict_fp32) continue;
      double ms_bd =
          B.median_ms([&] { gpu::conv_backward_data(B.ex(), p, dy.p(), w.p(), dx.data<float>()); });
      B.add({fmt::format("conv bwd-data {}", c.name), shape, "fp32", ms_bd, flops / (ms_bd * 1e9),
             0, 0, ""});
      double ms_bf = B.median_ms(
          [&] { gpu::conv_backward_filter(B.ex(), p, x.p(), dy.p(), dw.data<float>()); });
      B.add({fmt::format("conv bwd-filter {}", c.name), shape, "fp32", ms_bf, flops / (ms_bf * 1e9),
             0, 0, ""});
      if (c.k == 3 && c.stride == 1 && c.ci > 3) {  // inference: fused conv + bias + ReLU
        bool fused = gpu::conv_bias_act_forward(B.ex(), p, x.p(), w.p(), b.p(), nullptr, 0.f, true,
                                                y.data<float>());
        double ms_f = B.median_ms([&] {
          gpu::conv_bias_act_forward(B.ex(), p, x.p(), w.p(), b.p(), nullptr, 0.f, true,
                                     y.data<float>());
        });
        double ms_u = B.median_ms([&] {
          gpu::conv_bias_act_forward_unfused(B.ex(), p, x.p(), w.p(), b.p(), nullptr, 0.f, true,
                                             y.data<float>());
        });
        B.add({fmt::format("conv+bias+relu {}", c.name), shape, "fp32", ms_f, flops / (ms_f * 1e9),
               0, 0, fused ? "cudnn fused" : "fallback (unfused)"});
        B.add({fmt::format("conv+bias+relu unfused {}", c.name), shape, "fp32", ms_u,
               flops / (ms_u * 1e9), 0, 0, ""});
      }
    }
    B.ctx().set_math_mode(MathMode::strict_fp32);
    try {  // a refusal of this newer path leaves the rest of the table standing
      conv_bf16_channels_last(B, c, p, shape, x, w, b);
    } catch (const std::exception& e) {
      fmt::print(stderr, "bench_layers_gpu: bf16 NHWC {}: {}\n", c.name, e.what());
      B.add({fmt::format("conv+bias+relu bf16 NHWC {}", c.name), shape, "bf16", 0, 0, 0, 0,
             fmt::format("not run: {}", e.what())});
    }
  }
}

// ---- the memory-bound ops -------------------------------------------------------------------
void batchnorms(Bench& B) {
  struct S {
    int64_t c, hw;
  };
  for (S s : {S{64, 32}, S{128, 16}, S{256, 8}, S{512, 4}}) {
    const int64_t sp = s.hw * s.hw, total = kBatch * s.c * sp;
    const std::string shape = fmt::format("{}x{}x{}x{}", kBatch, s.c, s.hw, s.hw);
    Buffer x = make_buffer(total, 20), dy = make_buffer(total, 21);
    Buffer g = make_buffer(s.c, 22, 0.5f, 1.5f), be = make_buffer(s.c, 23),
           rm = make_buffer(s.c, 24), rv = make_buffer(s.c, 25, 0.5f, 1.5f);
    Tensor y({total}, DType::f32, Device::cuda(0)), dx({total}, DType::f32, Device::cuda(0)),
        sm({s.c}, DType::f32, Device::cuda(0)), si({s.c}, DType::f32, Device::cuda(0)),
        dg = Tensor::zeros({s.c}, DType::f32, Device::cuda(0)),
        db = Tensor::zeros({s.c}, DType::f32, Device::cuda(0));
    auto train = [&] {
      gpu::batchnorm_forward_train(B.ex(), kBatch, s.c, sp, x.p(), g.p(), be.p(), 0.1, 1e-5, rm.p(),
                                   rv.p(), sm.data<float>(), si.data<float>(), y.data<float>());
    };
    train();
    B.ctx().synchronize();
    {  // channel 0 of y: mean beta[0], variance gamma[0]^2 (biased, up to eps)
      std::vector<float> yv = download(y.data<float>(), total);
      double sum = 0, sq = 0;
      for (int64_t b = 0; b < kBatch; ++b)
        for (int64_t j = 0; j < sp; ++j)
          sum += yv[b * s.c * sp + j];
      const double mean = sum / (kBatch * sp);
      for (int64_t b = 0; b < kBatch; ++b)
        for (int64_t j = 0; j < sp; ++j)
          sq += (yv[b * s.c * sp + j] - mean) * (yv[b * s.c * sp + j] - mean);
      validate("batchnorm mean", mean, be.host[0], 1e-3);
      validate("batchnorm var", sq / (kBatch * sp), g.host[0] * g.host[0], 1e-3);
    }
    const double bytes = 2.0 * total * 4;  // x read, y written
    double ms = B.median_ms(train);
    B.add({"batchnorm train fwd", shape, "fp32", ms, 0, bytes / (ms * 1e6), 0, ""});
    double ms_b = B.median_ms([&] {
      gpu::batchnorm_backward(B.ex(), kBatch, s.c, sp, x.p(), dy.p(), g.p(), sm.data<float>(),
                              si.data<float>(), 1e-5, dx.data<float>(), dg.data<float>(),
                              db.data<float>());
    });
    B.add({"batchnorm bwd", shape, "fp32", ms_b, 0, 3.0 * total * 4 / (ms_b * 1e6), 0,
           "x, dy read; dx written"});
    double ms_e = B.median_ms([&] {
      gpu::batchnorm_forward_eval(B.ex(), kBatch, s.c, sp, x.p(), g.p(), be.p(), rm.p(), rv.p(),
                                  1e-5, y.data<float>());
    });
    B.add({"batchnorm eval fwd", shape, "fp32", ms_e, 0, bytes / (ms_e * 1e6), 0, ""});
  }
}

void elementwise_and_more(Bench& B) {
  const int64_t c = 64, hw = 32, total = kBatch * c * hw * hw;
  const std::string shape = fmt::format("{}x{}x{}x{}", kBatch, c, hw, hw);
  Buffer x = make_buffer(total, 30), z = make_buffer(total, 31), dy = make_buffer(total, 32);
  Tensor y({total}, DType::f32, Device::cuda(0)), dx({total}, DType::f32, Device::cuda(0));
  const double t4 = total * 4.0;
  auto check_at = [&](const char* what, const Tensor& t, int64_t i, double want) {
    B.ctx().synchronize();
    validate(what, download(t.data<float>() + i, 1)[0], want, 1e-6);
  };

  gpu::relu_forward(B.ex(), total, x.p(), y.data<float>());
  check_at("relu", y, 12345, std::max(0.f, x.host[12345]));
  double ms = B.median_ms([&] { gpu::relu_forward(B.ex(), total, x.p(), y.data<float>()); });
  B.add({"relu fwd", shape, "", ms, 0, 2 * t4 / (ms * 1e6), 0, ""});
  ms = B.median_ms(
      [&] { gpu::relu_backward(B.ex(), total, y.data<float>(), dy.p(), dx.data<float>()); });
  B.add({"relu bwd", shape, "", ms, 0, 3 * t4 / (ms * 1e6), 0, ""});
  ms = B.median_ms([&] { gpu::relu6_forward(B.ex(), total, x.p(), y.data<float>()); });
  B.add({"relu6 fwd", shape, "", ms, 0, 2 * t4 / (ms * 1e6), 0, ""});
  gpu::add(B.ex(), total, x.p(), z.p(), y.data<float>());
  check_at("add", y, 777, static_cast<double>(x.host[777] + z.host[777]));
  ms = B.median_ms([&] { gpu::add(B.ex(), total, x.p(), z.p(), y.data<float>()); });
  B.add({"residual add", shape, "", ms, 0, 3 * t4 / (ms * 1e6), 0, ""});
  ms =
      B.median_ms([&] { gpu::dropout_forward(B.ex(), total, 0.5f, 7, 1, x.p(), y.data<float>()); });
  B.add({"dropout fwd p=0.5", shape, "", ms, 0, 2 * t4 / (ms * 1e6), 0, "Philox per element"});

  // Pooling on the layer1 activation.
  for (auto mode : {kernels::PoolMode::max, kernels::PoolMode::avg_include_pad}) {
    kernels::PoolParams p;
    p.n = kBatch;
    p.c = c;
    p.in[0] = p.in[1] = hw;
    p.kernel[0] = p.kernel[1] = 3;
    p.stride[0] = p.stride[1] = 2;
    p.pad[0] = p.pad[1] = 1;
    p.mode = mode;
    const char* name = mode == kernels::PoolMode::max ? "maxpool 3x3 s2" : "avgpool 3x3 s2";
    gpu::pool_forward(B.ex(), p, x.p(), y.data<float>());
    {  // output (0, 0, 1, 1): window rows 1..3, cols 1..3 of plane 0
      double want = mode == kernels::PoolMode::max ? -1e30 : 0.0;
      for (int i = 1; i <= 3; ++i)
        for (int j = 1; j <= 3; ++j) {
          double v = x.host[i * hw + j];
          want = mode == kernels::PoolMode::max ? std::max(want, v) : want + v / 9.0;
        }
      check_at(name, y, p.out(1) + 1, want);
    }
    const double yb = p.y_numel() * 4.0;
    ms = B.median_ms([&] { gpu::pool_forward(B.ex(), p, x.p(), y.data<float>()); });
    B.add({std::string(name) + " fwd", shape, "", ms, 0, (t4 + yb) / (ms * 1e6), 0,
           mode == kernels::PoolMode::max ? "own kernel" : "cuDNN"});
    ms = B.median_ms(
        [&] { gpu::pool_backward(B.ex(), p, x.p(), y.data<float>(), dy.p(), dx.data<float>()); });
    B.add({std::string(name) + " bwd", shape, "", ms, 0, (2 * t4 + 2 * yb) / (ms * 1e6), 0, ""});
  }

  // Bilinear upsampling 16x16 -> 32x32 (segmentation heads).
  const int64_t small = kBatch * c * 16 * 16;
  gpu::upsample_bilinear2d_forward(B.ex(), kBatch, c, 16, 16, 32, 32, x.p(), y.data<float>());
  check_at("upsample", y, 0, x.host[0]);  // output (0, 0) takes input (0, 0) with weight 1
  ms = B.median_ms([&] {
    gpu::upsample_bilinear2d_forward(B.ex(), kBatch, c, 16, 16, 32, 32, x.p(), y.data<float>());
  });
  B.add({"upsample bilinear fwd", fmt::format("{}x{}x16x16 ->32x32", kBatch, c), "", ms, 0,
         (small + total) * 4.0 / (ms * 1e6), 0, ""});
  ms = B.median_ms([&] {
    gpu::upsample_bilinear2d_backward(B.ex(), kBatch, c, 16, 16, 32, 32, dy.p(), dx.data<float>());
  });
  B.add({"upsample bilinear bwd", fmt::format("{}x{}x16x16 ->32x32", kBatch, c), "", ms, 0,
         (small + total) * 4.0 / (ms * 1e6), 0, "gather, no atomics"});

  // Concatenation of two halves along channels.
  const int64_t half = total / 2, ch[2] = {c / 2, c / 2};
  const float* srcs[2] = {x.p(), z.p()};
  ms = B.median_ms(
      [&] { gpu::concat_channels(B.ex(), kBatch, hw * hw, 2, srcs, ch, y.data<float>()); });
  B.add({"concat channels", fmt::format("2 x {}x{}x{}x{}", kBatch, c / 2, hw, hw), "", ms, 0,
         2.0 * 2 * half * 4 / (ms * 1e6), 0, ""});

  // Global average pool and the classifier head.
  const int64_t f = 512, sp = 16, classes = 10;
  gpu::global_avg_pool_forward(B.ex(), kBatch, f, sp, x.p(), y.data<float>());
  {
    double want = 0;
    for (int j = 0; j < sp; ++j)
      want += x.host[j] / static_cast<double>(sp);
    check_at("global avg pool", y, 0, want);
  }
  ms = B.median_ms(
      [&] { gpu::global_avg_pool_forward(B.ex(), kBatch, f, sp, x.p(), y.data<float>()); });
  B.add({"global avg pool fwd", fmt::format("{}x{}x4x4", kBatch, f), "", ms, 0,
         kBatch * f * (sp + 1) * 4.0 / (ms * 1e6), 0, ""});
  Buffer wl = make_buffer(classes * f, 33), bl = make_buffer(classes, 34);
  gpu::linear_forward(B.ex(), kBatch, f, classes, x.p(), wl.p(), bl.p(), y.data<float>());
  {
    double want = bl.host[3], mag = std::abs(want);
    for (int64_t k = 0; k < f; ++k) {
      double t = static_cast<double>(x.host[k]) * wl.host[3 * f + k];
      want += t;
      mag += std::abs(t);
    }
    B.ctx().synchronize();
    validate("linear", download(y.data<float>() + 3, 1)[0], want, 1e-5, mag);
  }
  const double lflops = 2.0 * kBatch * f * classes;
  ms = B.median_ms([&] {
    gpu::linear_forward(B.ex(), kBatch, f, classes, x.p(), wl.p(), bl.p(), y.data<float>());
  });
  B.add({"linear fwd", fmt::format("{}x{} ->{}", kBatch, f, classes), "fp32", ms,
         lflops / (ms * 1e9), 0, 0, "launch-bound"});
  ms = B.median_ms([&] {
    gpu::linear_backward_weight(B.ex(), kBatch, f, classes, x.p(), dy.p(), dx.data<float>());
    gpu::linear_backward_data(B.ex(), kBatch, f, classes, dy.p(), wl.p(), y.data<float>());
  });
  B.add({"linear bwd (data + weight)", fmt::format("{}x{} ->{}", kBatch, f, classes), "fp32", ms,
         2 * lflops / (ms * 1e9), 0, 0, "launch-bound"});

  // Softmax and cross-entropy on the logits (launch-bound at this size).
  std::vector<int32_t> labels(kBatch);
  for (int64_t i = 0; i < kBatch; ++i)
    labels[i] = static_cast<int32_t>(i % classes);
  Tensor lab({kBatch}, DType::i32, Device::cuda(0));
  kernels::copy_bytes(lab.raw(), true, labels.data(), false, labels.size() * 4);
  Tensor loss({1}, DType::f32, Device::cuda(0)), wsum({1}, DType::f64, Device::cuda(0));
  ms = B.median_ms(
      [&] { gpu::softmax_forward(B.ex(), kBatch, classes, 1, x.p(), y.data<float>()); });
  B.add({"softmax fwd", fmt::format("{}x{}", kBatch, classes), "", ms, 0,
         2.0 * kBatch * classes * 4 / (ms * 1e6), 0, "launch-bound"});
  ms = B.median_ms([&] {
    gpu::cross_entropy_forward(B.ex(), kBatch, classes, 1, x.p(), lab.data<int32_t>(), nullptr,
                               -100, gpu::Reduction::mean, loss.data<float>(), wsum.data<double>());
    gpu::cross_entropy_backward(B.ex(), kBatch, classes, 1, x.p(), lab.data<int32_t>(), nullptr,
                                -100, gpu::Reduction::mean, wsum.data<double>(), 1.f,
                                dx.data<float>());
  });
  B.add({"cross-entropy fwd+bwd", fmt::format("{}x{}", kBatch, classes), "", ms, 0,
         2.0 * kBatch * classes * 4 / (ms * 1e6), 0, "launch-bound"});

  // Whole-arena passes: ResNet-18's 11.17M parameters.
  const int64_t params = 11173962;
  Buffer th = make_buffer(params, 35);
  Tensor out({2}, DType::f64, Device::cuda(0));
  gpu::sum_squares(B.ex(), th.p(), params, out.data<double>());
  B.ctx().synchronize();
  {
    double want = 0, got = 0;
    for (float v : th.host)
      want += static_cast<double>(v) * v;
    kernels::copy_bytes(&got, false, out.raw(), true, 8);
    validate("sum_squares", got, want, 1e-10);
  }
  ms = B.median_ms([&] { gpu::sum_squares(B.ex(), th.p(), params, out.data<double>()); });
  B.add({"sum of squares (deterministic)", "11.17M", "", ms, 0, params * 4.0 / (ms * 1e6), 0,
         "norm of theta"});
  ms = B.median_ms([&] { gpu::axpy(B.ex(), params, -0.1f, th.p(), x.p()); });
  B.add({"axpy", "11.17M", "", ms, 0, 3.0 * params * 4 / (ms * 1e6), 0, "SGD-like update"});
}

void write_csv(const std::vector<Row>& rows, const std::string& path, const std::string& gpu) {
  OutputFile f(path);
  f.print("gpu,op,shape,math,median_ms,tflops,gbs,fraction_of_peak,note\n");
  for (const Row& r : rows)
    f.print("{},{},{},{},{:.6f},{:.4f},{:.2f},{:.4f},{}\n", csv_quote(gpu), csv_quote(r.op),
            csv_quote(r.shape), r.math, r.ms, r.tflops, r.gbs, r.frac, csv_quote(r.note));
  f.close();
}

int run(const std::string& csv) {
  kernels::BackendInfo info = kernels::backend_info();
  const kernels::GpuInfo& g = info.gpus.front();
  const std::string gpu_name = fmt::format("{} (sm_{}{})", g.name, g.cc_major, g.cc_minor);
  fmt::print("bench_layers_gpu: {} | CUDA {} driver {} | cuDNN {} | host {}\n", gpu_name,
             info.cuda_runtime, info.cuda_driver, info.cudnn, info.cpu_name);
  fmt::print(
      "ResNet-18 (CIFAR) shapes, batch {}; median over repetitions after warm-up.\n"
      "GB/s counts each tensor read or written once; fractions are of the measured fp32 "
      "SGEMM (TFLOP/s) or device copy (GB/s).\n\n",
      kBatch);
  fmt::print("{:<34} {:<30} {:<5} {:>9} {:>8} {:>8} {:>7}  {}\n", "op", "shape", "math", "ms",
             "TFLOP/s", "GB/s", "peak", "note");
  Bench B;
  peaks(B);
  convolutions(B);
  batchnorms(B);
  elementwise_and_more(B);
  write_csv(B.rows(), csv, gpu_name);
  fmt::print("\nwrote {}\n", csv);
  return 0;
}
#endif

}  // namespace
}  // namespace nsal::bench

int main(int argc, char** argv) {
  using namespace nsal;
  if (!bench::gpu_available("bench_layers_gpu")) return 0;
#ifdef NSAL_WITH_CUDA
  try {
    return bench::run(argc > 1 ? argv[1] : "bench_layers_gpu.csv");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_layers_gpu: %s\n", e.what());
    return 1;
  }
#else
  (void)argc;
  (void)argv;
  return 0;
#endif
}
