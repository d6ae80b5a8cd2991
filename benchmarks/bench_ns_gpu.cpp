// Noise-stability scoring as acquisition runs it (al::noise_stability_scores, the `paper`
// preset) on resnet18-cifar over a pool of CIFAR-shaped images, K draws, on the GPU (or the CPU
// with --device cpu): strict fp32 on the fused inference path (the default), layer by layer and
// with cuDNN's algorithms timed (--cudnn-autotune), and bf16 on the fused path (bfloat16
// channels-last activations); seconds with the split that `nsal score` prints, and how much the
// top-N set changes from fp32 to bf16. On the CPU: the layer path in fp32 only. The model is first
// trained for a few steps on the pool (synthetic images of 10 classes) so that its outputs are not
// uniform. With --out DIR it writes the checkpoint and the pool as a dataset, and both again as
// .npy files in DIR/ns_export (benchmarks/npy_export.h), so that
// benchmarks/torch_noise_stability.py scores the same weights and pool in PyTorch, with or without
// h5py (scripts/gpu_check.sh runs both).
//
//   bench_ns_gpu [--pool N] [--draws K] [--batch B] [--budget N] [--device cuda|cpu]
//                [--cpu-check N] [--out DIR]
//
// Defaults: pool 10000, K 10, batch 1000, budget 1000, cuda (skipped, exit 0, when none answers).
// The first --cpu-check samples (default 500 on a GPU, none on the CPU) are scored again on the
// CPU, and the differences of the scores and of the top tenth are printed (DESIGN section 4).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "al/noise_stability.h"
#include "al/strategy.h"
#include "benchmarks/gpu_bench_skip.h"
#include "benchmarks/npy_export.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "kernels/backend_info.h"
#include "nn/checkpoint.h"
#include "nn/losses.h"
#include "nn/models/registry.h"
#include "nn/optim/optimizer.h"

namespace {

using namespace nsal;

struct Options {
  int64_t pool = 10000;
  int draws = 10, batch = 1000;
  int64_t budget = 1000;
  int64_t cpu_check = -1;  // samples scored again on the CPU (0: none; -1: 500 on a GPU, else 0)
  std::string device = "cuda", out;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(fmt::format("{} needs a value", a));
      return argv[++i];
    };
    if (a == "--pool")
      o.pool = std::atoll(value().c_str());
    else if (a == "--draws")
      o.draws = std::atoi(value().c_str());
    else if (a == "--batch")
      o.batch = std::atoi(value().c_str());
    else if (a == "--budget")
      o.budget = std::atoll(value().c_str());
    else if (a == "--device")
      o.device = value();
    else if (a == "--out")
      o.out = value();
    else if (a == "--cpu-check")
      o.cpu_check = std::atoll(value().c_str());
    else
      throw Error(fmt::format(
          "unknown argument '{}'; usage: bench_ns_gpu [--pool N] [--draws K] [--batch B] "
          "[--budget N] [--device cuda|cpu] [--cpu-check N] [--out DIR]",
          a));
  }
  NSAL_CHECK(o.pool > 0 && o.draws > 0 && o.batch > 0 && o.budget > 0 && o.budget <= o.pool,
             "bench_ns_gpu: pool, draws, batch and budget must be positive, budget <= pool");
  NSAL_CHECK(o.cpu_check >= -1, "bench_ns_gpu: --cpu-check must be >= 0");
  NSAL_CHECK(o.device == "cuda" || o.device == "cpu", "--device: cuda or cpu, got '{}'", o.device);
  return o;
}

// A few SGD steps over the pool (training mode), so that the scores have something to measure.
void train_briefly(Model& m, Context& ctx, const data::Dataset& d) {
  Sgd opt(m.arena(), SgdOptions{0.05f, 0.9f, 0.0f, 5e-4f, false});
  CrossEntropyLoss ce;
  m.set_training(true);
  const int64_t b = std::min<int64_t>(256, d.size());
  for (int64_t first = 0; first + b <= d.size() && first < 20 * b; first += b) {
    Tensor x = d.x.slice0(first, first + b).to(ctx.device());
    Tensor y = d.y.slice0(first, first + b).to(ctx.device());
    opt.zero_grad(ctx);
    ce.forward_async(ctx, m.forward(ctx, x), y);
    m.backward(ctx, ce.backward(ctx));
    opt.step(ctx);
  }
  ctx.synchronize();
  m.set_training(false);
}

// DESIGN section 4: the same noise on both backends, scores equal within rounding, selections
// overlapping almost entirely. The first `o.cpu_check` pool samples are scored again on the CPU
// (the same weights, noise seed and configuration, fp32 layer by layer); printed: the relative
// difference of each GPU fp32 row's scores (fused, layers) from the CPU's, and how many of the
// top tenth they share. A sample's score does not depend on the rest of the pool, so the GPU
// scores of those samples come from the whole-pool runs.
void compare_with_cpu(Model& gpu_model, const data::Dataset& train,
                      const std::vector<int64_t>& pool, al::NoiseStabilityConfig cfg,
                      const Options& o, int64_t samples,
                      const std::vector<std::pair<std::string, std::vector<float>>>& gpu_rows) {
  const int64_t n = std::min(samples, o.pool);
  auto cpu_model = make_model({"resnet18-cifar", 3, 10});
  cpu_model->build(Device::cpu(), 1);
  cpu_model->arena().params().copy_from(gpu_model.arena().params());
  cpu_model->arena().buffers().copy_from(gpu_model.arena().buffers());
  Context cpu;
  const std::vector<int64_t> sub(pool.begin(), pool.begin() + n);
  cfg.fused = false;
  const auto t0 = std::chrono::steady_clock::now();
  const al::NoiseStabilityResult c =
      al::noise_stability_scores(*cpu_model, cpu, train, sub, cfg, std::min<int>(o.batch, 256), 3);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t k = std::max<int64_t>(1, n / 10);
  std::vector<int64_t> top_cpu = al::top_candidates(c.scores, sub, k);
  std::sort(top_cpu.begin(), top_cpu.end());
  fmt::print("\nCPU against {}, the first {} pool samples (CPU fp32 layers: {:.1f} s):\n",
             gpu_model.arena().device().is_cuda() ? "GPU" : "the whole-pool run", n, seconds);
  for (const auto& [name, all] : gpu_rows) {
    const std::vector<float> g(all.begin(), all.begin() + n);
    std::vector<double> rel(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const double cs = c.scores[static_cast<size_t>(i)], gs = g[static_cast<size_t>(i)];
      rel[static_cast<size_t>(i)] = std::abs(gs - cs) / std::max(std::abs(cs), 1e-30);
    }
    std::vector<double> sorted = rel;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> top_gpu = al::top_candidates(g, sub, k);
    std::sort(top_gpu.begin(), top_gpu.end());
    std::vector<int64_t> both;
    std::set_intersection(top_cpu.begin(), top_cpu.end(), top_gpu.begin(), top_gpu.end(),
                          std::back_inserter(both));
    fmt::print(
        "  {:<12} score difference: median {:.2e}, max {:.2e} relative; top {}: {} the same\n",
        name, sorted[sorted.size() / 2], sorted.back(), k, both.size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (o.device == "cuda" && !nsal::bench::gpu_available("bench_ns_gpu")) return 0;
    const Device device = o.device == "cuda" ? Device::cuda(0) : Device::cpu();
    const kernels::BackendInfo info = kernels::backend_info();
    fmt::print("bench_ns_gpu: {} | cpu {}\n",
               device.is_cuda() && !info.gpus.empty() ? info.gpus.front().name : "CPU",
               info.cpu_name);
    fmt::print(
        "paper preset, resnet18-cifar, pool {} synthetic 3x32x32 images, K = {}, lambda 1e-3, "
        "batch {}, top {} selected; cuDNN algorithms deterministic only (the default){}\n\n",
        o.pool, o.draws, o.batch, o.budget,
        device.is_cuda() ? "" : "; the CPU computes in fp32 whatever the math mode");

    data::SynthOptions so;
    so.train = o.pool;
    so.test = 10;
    so.classes = 10;
    so.size = 32;
    so.channels = 3;
    so.seed = 7;
    data::Dataset train = data::synth_images(so, "train"), test = data::synth_images(so, "test");
    Context ctx(device);
    auto model = make_model({"resnet18-cifar", 3, 10});
    model->build(device, 1);
    train_briefly(*model, ctx, train);
    if (!o.out.empty()) {
      std::filesystem::create_directories(o.out);
      save_checkpoint(o.out + "/ns_checkpoint.h5", *model, nullptr, CheckpointMeta{});
      data::WriteOptions wo;
      wo.force = true;
      data::write_dataset(o.out + "/ns_pool.h5", train, test, wo);
      // The same as .npy files, for Pythons without h5py (the normalisation the file records).
      bench::export_npy(o.out + "/ns_export", *model, 3, 10, train,
                        data::read_info(o.out + "/ns_pool.h5"));
    }

    al::NoiseStabilityConfig cfg;
    cfg.draws = o.draws;
    std::vector<int64_t> pool(static_cast<size_t>(o.pool));
    for (int64_t i = 0; i < o.pool; ++i)
      pool[static_cast<size_t>(i)] = i;
    fmt::print("{:<6} {:<11} {:>9} {:>9} {:>14} {:>12} {:>10}\n", "math", "path", "total s",
               "clean s", "perturb+rst s", "perturbed s", "select s");
    // On a GPU: fp32 on the fused path (the default), fp32 layer by layer, the fused path with
    // cuDNN's forward algorithms timed once per shape (--cudnn-autotune), and bf16 on the fused
    // path (bf16 channels-last activations), plain and tuned. The CPU has no fused scoring path
    // and computes in fp32: one row, the layers.
    struct Run {
      MathMode math;
      bool fused, tuned;
      const char* path;
    };
    std::vector<Run> runs = {{MathMode::strict_fp32, false, false, "layers"}};
    if (device.is_cuda())
      runs = {{MathMode::strict_fp32, true, false, "fused"},
              {MathMode::strict_fp32, false, false, "layers"},
              {MathMode::strict_fp32, true, true, "fused-tuned"},
              {MathMode::bf16, true, false, "fused"},
              {MathMode::bf16, true, true, "fused-tuned"}};
    std::vector<std::vector<int64_t>> selected;
    std::vector<std::vector<float>> scores;
    for (const Run& run : runs) {
      ctx.set_math_mode(run.math);
      ctx.set_conv_autotune(run.tuned);
      cfg.fused = run.fused;
      al::noise_stability_scores(*model, ctx, train, pool, cfg, o.batch, 3);  // warm-up
      const auto t0 = std::chrono::steady_clock::now();
      al::NoiseStabilityResult r =
          al::noise_stability_scores(*model, ctx, train, pool, cfg, o.batch, 3);
      const auto t1 = std::chrono::steady_clock::now();
      selected.push_back(al::top_candidates(r.scores, pool, o.budget));
      scores.push_back(r.scores);
      const auto t2 = std::chrono::steady_clock::now();
      const double total = std::chrono::duration<double>(t2 - t0).count();
      fmt::print("{:<6} {:<11} {:>9.3f} {:>9.3f} {:>14.4f} {:>12.3f} {:>10.4f}{}\n",
                 math_mode_name(run.math), run.path, total, r.timing.clean_seconds,
                 r.timing.perturb_seconds, r.timing.perturbed_seconds,
                 std::chrono::duration<double>(t2 - t1).count(),
                 r.nonfinite ? fmt::format("  ({} non-finite)", r.nonfinite) : "");
    }
    ctx.set_conv_autotune(false);
    if (runs.size() > 3) {  // the first fp32 row against the first bf16 row, both fused
      std::vector<int64_t> a = selected[0], b = selected[3];
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      std::vector<int64_t> both;
      std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
      fmt::print("\nselected set, bf16 against fp32 (fused): {} of {} the same ({:.1f}%)\n",
                 both.size(), o.budget,
                 100.0 * static_cast<double>(both.size()) / static_cast<double>(o.budget));
    }
    const int64_t cpu_check = o.cpu_check >= 0 ? o.cpu_check : device.is_cuda() ? 500 : 0;
    if (cpu_check > 0) {
      std::vector<std::pair<std::string, std::vector<float>>> fp32_rows;
      for (size_t i = 0; i < runs.size(); ++i)
        if (runs[i].math == MathMode::strict_fp32 && !runs[i].tuned)
          fp32_rows.emplace_back(fmt::format("fp32 {}", runs[i].path), scores[i]);
      compare_with_cpu(*model, train, pool, cfg, o, cpu_check, fp32_rows);
    }
    if (!o.out.empty())
      fmt::print(
          "wrote {0}/ns_checkpoint.h5, {0}/ns_pool.h5 and {0}/ns_export/ (the same as .npy files) "
          "for torch_noise_stability.py\n",
          o.out);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_ns_gpu: {}\n", e.what());
    return 1;
  }
}
