// Whole-model GPU benchmark: resnet18-cifar inference (eval mode) in images/s at batch 256 and
// 1024, in strict fp32 and bf16 math (MathMode), layer by layer and with the fused inference
// path (nn/fuse.h: BatchNorm folded, conv + bias + ReLU (+ residual) in one cuDNN call); and a
// training step (forward, cross-entropy, backward, SGD) at batch 128. bf16 layer by layer keeps
// float32 activations (GEMMs with bf16 inputs, convolutions as TF32: cuDNN's legacy API has no
// bf16 compute for float32 tensors); bf16 fused is the bf16 channels-last path (activations and
// folded weights in bfloat16 NHWC, cuDNN on tensor cores, float32 accumulation), the peer of
// PyTorch's channels-last autocast. fused-tuned is the fused path with cuDNN's forward algorithms
// timed once per shape (Context::set_conv_autotune), sgd-tuned the training step with all three
// directions timed; their peers are PyTorch's rows with cudnn.benchmark.
// The PyTorch peer is benchmarks/torch_models_gpu.py;
// scripts/gpu_check.sh runs both and tables them.
//
// Every configuration is validated before it is timed: the logits of the first 8 images against
// the CPU backend (strict fp32: relative L2 at most 5e-4, the whole-model tolerance of
// tests/test_cuda_layers.cpp; bf16 fused: at most 2e-2, the bound of tests/test_cuda_bf16.cpp;
// bf16 layer by layer: at most 0.2, a sanity bound for TF32; the measured error is printed), the
// fused path against the unfused one, the training loss finite. Then 3 warm-up runs and `reps`
// timed runs (CUDA events around each), median reported.
//
//   bench_models_gpu [out.csv] [--batches 256,1024] [--reps 20]
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "benchmarks/bench_output.h"
#include "benchmarks/gpu_bench_skip.h"
#include "kernels/backend_info.h"
#include "kernels/memory.h"
#include "nn/losses.h"
#include "nn/models/registry.h"
#include "nn/models/resnet_cifar.h"
#include "nn/optim/optimizer.h"
#ifdef NSAL_WITH_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/check.h"
#include "kernels/cuda/gpu_handles.h"
#endif

namespace nsal::bench {
namespace {

struct Options {
  std::string csv = "bench_models_gpu.csv";
  std::vector<int64_t> batches = {256, 1024};
  int64_t train_batch = 128;
  int reps = 20;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) throw Error(std::string("bench_models_gpu: ") + flag + " needs a value");
      return argv[++i];
    };
    if (a == "--batches") {
      o.batches.clear();
      std::string v = value("--batches");
      size_t start = 0;
      while (start <= v.size()) {
        size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        o.batches.push_back(std::stoll(v.substr(start, end - start)));
        start = end + 1;
      }
    } else if (a == "--reps") {
      o.reps = std::max(1, std::stoi(value("--reps")));
    } else if (a == "--train-batch") {
      o.train_batch = std::stoll(value("--train-batch"));
    } else if (!a.empty() && a[0] == '-') {
      throw Error("bench_models_gpu: unknown option " + a +
                  "; usage: bench_models_gpu [out.csv] [--batches 256,1024] [--reps 20] "
                  "[--train-batch 128]");
    } else {
      o.csv = a;
    }
  }
  return o;
}

#ifdef NSAL_WITH_CUDA

// Uniform values in [-1, 1) from a fast generator (the benchmark's inputs).
std::vector<double> random_values(int64_t n, uint64_t seed) {
  std::vector<double> v(static_cast<size_t>(n));
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& e : v) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    e = -1.0 + 2.0 * static_cast<double>(s >> 40) / 16777216.0;
  }
  return v;
}

double rel_l2(const std::vector<double>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// The first `rows` rows of a (N, C) device tensor, on the host.
std::vector<double> first_rows(const Tensor& t, int64_t rows) {
  return t.slice0(0, rows).to(Device::cpu()).to_vector();
}

class Timer {
 public:
  explicit Timer(Context& ctx) : ctx_(ctx) {
    stream_ = ctx.gpu().handles->stream();
    NSAL_CUDA_CHECK(cudaEventCreate(&a_));
    NSAL_CUDA_CHECK(cudaEventCreate(&b_));
  }
  ~Timer() {
    cudaEventDestroy(a_);
    cudaEventDestroy(b_);
  }
  // Median milliseconds of f over `reps` runs after 3 warm-up runs.
  double median_ms(const std::function<void()>& f, int reps) {
    for (int i = 0; i < 3; ++i)
      f();
    ctx_.synchronize();
    std::vector<float> t;
    for (int i = 0; i < reps; ++i) {
      NSAL_CUDA_CHECK(cudaEventRecord(a_, stream_));
      f();
      NSAL_CUDA_CHECK(cudaEventRecord(b_, stream_));
      NSAL_CUDA_CHECK(cudaEventSynchronize(b_));
      float ms = 0;
      NSAL_CUDA_CHECK(cudaEventElapsedTime(&ms, a_, b_));
      t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }

 private:
  Context& ctx_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t a_ = nullptr, b_ = nullptr;
};

struct Row {
  std::string what;
  int64_t batch;
  std::string math, path;
  double ms, images_per_s;
  std::string check;
};

void print_row(const Row& r) {
  fmt::print("{:<10} {:>6} {:<5} {:<11} {:>10.3f} {:>12.0f}  {}\n", r.what, r.batch, r.math, r.path,
             r.ms, r.images_per_s, r.check);
  std::fflush(stdout);
}

int run(const Options& opt) {
  kernels::BackendInfo info = kernels::backend_info();
  const kernels::GpuInfo& g = info.gpus.front();
  const std::string gpu_name = fmt::format("{} (sm_{}{})", g.name, g.cc_major, g.cc_minor);
  fmt::print("bench_models_gpu: {} | CUDA {} driver {} | cuDNN {} | host {}\n", gpu_name,
             info.cuda_runtime, info.cuda_driver, info.cudnn, info.cpu_name);
  fmt::print(
      "resnet18-cifar (3x32x32, 10 classes), synthetic inputs; median of {} timed runs after 3 "
      "warm-up runs.\nbf16 unfused: float32 activations, GEMMs with bf16 inputs, convolutions as "
      "TF32. bf16 fused: bfloat16 channels-last activations and weights, fp32 accumulation.\n"
      "fused: BN folded at every forward + cuDNN conv+bias+ReLU(+residual).\ncuDNN algorithms: "
      "deterministic ones only (nsal's default; forward convolutions are deterministic anyway, "
      "the training step's backward is where it can cost).\n\n",
      opt.reps);
  fmt::print("{:<10} {:>6} {:<5} {:<11} {:>10} {:>12}  {}\n", "what", "batch", "math", "path", "ms",
             "images/s", "check");

  Context ctx(Device::cuda(0));
  Timer timer(ctx);
  auto model = make_model({"resnet18-cifar", 3, 10});
  model->build(Device::cuda(0), 1);
  auto* resnet = dynamic_cast<ResNetCifar*>(model.get());
  {  // Realistic BatchNorm statistics for eval mode: 20 training-mode passes over one batch
    Tensor calib = Tensor::from_vector(random_values(256 * 3 * 32 * 32, 10), {256, 3, 32, 32})
                       .to(Device::cuda(0));
    model->set_training(true);
    for (int i = 0; i < 20; ++i)
      model->forward(ctx, calib);
    model->set_training(false);
  }

  // The CPU reference: the same weights and statistics on the first 8 images.
  const int64_t kCheck = 8;
  auto cpu_model = make_model({"resnet18-cifar", 3, 10});
  cpu_model->build(Device::cpu(), 1);
  cpu_model->arena().params().copy_from(model->arena().params());
  cpu_model->arena().buffers().copy_from(model->arena().buffers());
  cpu_model->set_training(false);
  const std::vector<double> x8 = random_values(kCheck * 3 * 32 * 32, 11);
  Context cpu_ctx(Device::cpu());
  const std::vector<double> want =
      cpu_model->forward(cpu_ctx, Tensor::from_vector(x8, {kCheck, 3, 32, 32})).to_vector();

  // Each row goes to the CSV as soon as it is measured; a configuration that fails (validation,
  // a cuDNN refusal) becomes a row saying why, the others still run, and the exit status is 1.
  OutputFile f(opt.csv);
  f.print("gpu,what,batch,math,path,median_ms,images_per_s,check\n");
  f.flush();
  int failures = 0;
  auto emit = [&](const Row& r) {
    print_row(r);
    f.print("{},{},{},{},{},{:.4f},{:.1f},{}\n", csv_quote(gpu_name), r.what, r.batch, r.math,
            r.path, r.ms, r.images_per_s, csv_quote(r.check));
    f.flush();
  };
  auto attempt = [&](const char* what, int64_t batch, MathMode math, const std::string& path,
                     const std::function<Row()>& measure) {
    try {
      emit(measure());
    } catch (const std::exception& e) {
      ++failures;
      std::string why = e.what();
      std::replace(why.begin(), why.end(), '\n', ' ');  // one CSV line per row
      emit({what, batch, math_mode_name(math), path, std::nan(""), 0.0, "FAILED: " + why});
    }
  };

  for (int64_t batch : opt.batches) {
    std::vector<double> xs = random_values(batch * 3 * 32 * 32, 12);
    std::copy(x8.begin(), x8.end(), xs.begin());  // the checked images come first
    Tensor x = Tensor::from_vector(xs, {batch, 3, 32, 32}).to(Device::cuda(0));
    for (MathMode math : {MathMode::strict_fp32, MathMode::bf16}) {
      ctx.set_math_mode(math);
      std::vector<double> unfused;
      // Layer by layer, fused, and fused with cuDNN's forward algorithms timed once per shape
      // (Context::set_conv_autotune; PyTorch's peer row sets cudnn.benchmark).
      for (int path = 0; path < 3; ++path) {
        const bool fused = path > 0, tuned = path == 2;
        const char* path_name = tuned ? "fused-tuned" : fused ? "fused" : "unfused";
        model->set_fused_inference(fused);
        ctx.set_conv_autotune(tuned);
        attempt("forward", batch, math, path_name, [&]() -> Row {
          const std::vector<double> got = first_rows(model->forward(ctx, x), kCheck);
          const double err = rel_l2(got, want);
          // bf16 fused: the bound of tests/test_cuda_bf16.cpp. TF32 (bf16 layer by layer) has no
          // tested bound: only a sanity bound there (a broken path is off by O(1)); the measured
          // error is printed either way.
          const double bound = math == MathMode::strict_fp32 ? 5e-4 : fused ? 2e-2 : 0.2;
          if (!(err <= bound))
            throw Error(
                fmt::format("validation failed: batch {} {} {}: logits differ from the CPU "
                            "by {:.3g} relative L2 (bound {:.0e})",
                            batch, math_mode_name(math), path_name, err, bound));
          std::string check = fmt::format("vs CPU {:.1e}", err);
          if (!fused) {
            unfused = got;
          } else {
            check += fmt::format(
                ", vs unfused {}, {} of {} units in cuDNN's fused kernel",
                unfused.empty() ? std::string("n/a") : fmt::format("{:.1e}", rel_l2(got, unfused)),
                resnet->fused_kernels_last_forward(), resnet->fused_units());
          }
          const double ms = timer.median_ms([&] { model->forward(ctx, x); }, opt.reps);
          return {"forward", batch, math_mode_name(math),
                  path_name, ms,    static_cast<double>(batch) / (ms / 1e3),
                  check};
        });
      }
      ctx.set_conv_autotune(false);
    }
  }
  model->set_fused_inference(false);

  // Training step: forward, cross-entropy (read only after the timing: no host wait per step),
  // backward, SGD with momentum and weight decay.
  {
    const int64_t b = opt.train_batch;
    Tensor x =
        Tensor::from_vector(random_values(b * 3 * 32 * 32, 13), {b, 3, 32, 32}).to(Device::cuda(0));
    std::vector<double> labels(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i)
      labels[static_cast<size_t>(i)] = static_cast<double>(i % 10);
    Tensor y = Tensor::from_vector(labels, {b}, DType::i32).to(Device::cuda(0));
    model->set_training(true);
    SgdOptions so;
    so.lr = 0.01f;
    Sgd sgd(model->arena(), so);
    CrossEntropyLoss ce;
    auto step = [&] {
      sgd.zero_grad(ctx);
      ce.forward_async(ctx, model->forward(ctx, x), y);
      model->backward(ctx, ce.backward(ctx));
      sgd.step(ctx);
    };
    // By cuDNN's heuristics, then with all three directions timed once per shape ("sgd-tuned";
    // PyTorch's peer row sets cudnn.benchmark).
    for (bool tuned : {false, true})
      for (MathMode math : {MathMode::strict_fp32, MathMode::bf16}) {
        ctx.set_math_mode(math);
        ctx.set_conv_autotune(tuned);
        const char* path_name = tuned ? "sgd-tuned" : "sgd";
        attempt("train", b, math, path_name, [&]() -> Row {
          step();
          const double first = ce.loss_value();
          const double ms = timer.median_ms(step, opt.reps);
          const double last = ce.loss_value();
          if (!std::isfinite(first) || !std::isfinite(last))
            throw Error(fmt::format("validation failed: training loss {} -> {}", first, last));
          return {
              "train",
              b,
              math_mode_name(math),
              path_name,
              ms,
              static_cast<double>(b) / (ms / 1e3),
              fmt::format("loss {:.4f} -> {:.4f} over the timed steps (fixed batch)", first, last)};
        });
      }
    ctx.set_conv_autotune(false);
    model->set_training(false);
  }

  f.close();
  fmt::print("\nwrote {}{}\n", opt.csv,
             failures ? fmt::format("; {} configuration(s) FAILED (rows say why)", failures) : "");
  return failures ? 1 : 0;
}
#endif

}  // namespace
}  // namespace nsal::bench

int main(int argc, char** argv) {
  using namespace nsal;
  bench::Options opt;
  try {
    opt = bench::parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  if (!bench::gpu_available("bench_models_gpu")) return 0;
#ifdef NSAL_WITH_CUDA
  try {
    return bench::run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_models_gpu: %s\n", e.what());
    return 1;
  }
#else
  return 0;
#endif
}
