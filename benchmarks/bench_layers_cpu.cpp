// CPU layer benchmark: the layers other than convolution (bench_conv_cpu has those) at
// ResNet-18 (CIFAR) and mnist-cnn shapes, batch 128, through the Layer API as a model runs them.
// Each layer is first validated: its float32 forward and backward against the same layer in
// float64 on the same values (the float64 path is the one the unit tests check against naive
// references and finite differences). Then forward and forward + backward are warmed up,
// repeated, and reported as median milliseconds and GB/s, counting each tensor read or written
// once (the least traffic the op needs; parameters aside).
//
//   bench_layers_cpu [--repeats N] [--batch N] [--filter TEXT] [--csv PATH]
//
// Threads: OpenMP's (OMP_NUM_THREADS); the table says how many.
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmarks/bench_output.h"
#include "kernels/backend_info.h"
#include "nn/init.h"
#include "nn/layers/activation.h"
#include "nn/layers/batchnorm.h"
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"
#include "nn/layers/pool.h"
#include "nn/layers/upsample.h"

namespace nsal::bench {
namespace {

using Make = std::function<std::unique_ptr<Layer>()>;

struct Case {
  std::string name;
  Make make;
  Shape in;
  bool train = true;  // training mode (BatchNorm batch statistics, Dropout masks)
};

// One layer with its own parameters (if any), in float32 or float64.
struct Instance {
  std::unique_ptr<Layer> layer;
  ParamArena arena;
  Instance(const Case& c, DType dtype) : layer(c.make()) {
    layer->declare(arena);
    arena.allocate(dtype, Device::cpu());
    init_pytorch_default(arena, 5);
    layer->set_training(c.train);
  }
};

std::vector<double> random_values(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& e : v)
    e = u(rng);
  return v;
}

double max_rel_error(const std::vector<double>& got, const std::vector<double>& want) {
  double err = 0, scale = 1e-30;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
}

// float32 against float64 on the same inputs, weights and output gradient.
bool validate(const Case& c) {
  Context ctx;
  Instance a(c, DType::f32), b(c, DType::f64);
  const std::vector<double> xv = random_values(shape_numel(c.in), 1);
  Tensor x32 = Tensor::from_vector(xv, c.in, DType::f32);
  Tensor x64 = Tensor::from_vector(xv, c.in, DType::f64);
  const std::vector<double> y32 = a.layer->forward(ctx, x32).to_vector();
  const std::vector<double> y64 = b.layer->forward(ctx, x64).to_vector();
  const Shape ys = b.layer->output().shape();
  const std::vector<double> dyv = random_values(shape_numel(ys), 2);
  const std::vector<double> dx32 =
      a.layer->backward(ctx, Tensor::from_vector(dyv, ys, DType::f32)).to_vector();
  const std::vector<double> dx64 =
      b.layer->backward(ctx, Tensor::from_vector(dyv, ys, DType::f64)).to_vector();
  const double ey = max_rel_error(y32, y64), edx = max_rel_error(dx32, dx64);
  if (ey < 1e-5 && edx < 1e-5) return true;
  fmt::print(stderr, "validation FAILED for {}: forward off by {:.3g}, backward by {:.3g}\n",
             c.name, ey, edx);
  return false;
}

double seconds(const std::function<void()>& f) {
  auto a = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

double median_of(int repeats, const std::function<void()>& f) {
  f();  // warm-up: buffers sized, pages touched
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r)
    t.push_back(seconds(f));
  std::sort(t.begin(), t.end());
  const size_t m = t.size() / 2;
  return t.size() % 2 ? t[m] : 0.5 * (t[m - 1] + t[m]);
}

std::vector<Case> cases(int64_t n) {
  auto bn = [](int64_t c) { return [c] { return std::make_unique<BatchNorm2d>("bn", c); }; };
  auto relu = [] { return std::make_unique<ReLU>("relu"); };
  return {
      {"BN2d (train)", bn(64), {n, 64, 32, 32}},
      {"BN2d (train)", bn(512), {n, 512, 4, 4}},
      {"BN2d (eval)", bn(64), {n, 64, 32, 32}, false},
      {"ReLU", relu, {n, 64, 32, 32}},
      {"MaxPool 3x3 s2 p1",
       [] { return std::make_unique<MaxPool2d>("pool", 3, 2, 1); },
       {n, 64, 32, 32}},
      {"MaxPool 2x2", [] { return std::make_unique<MaxPool2d>("pool", 2); }, {n, 32, 24, 24}},
      {"AvgPool 4x4", [] { return std::make_unique<AvgPool2d>("pool", 4); }, {n, 512, 4, 4}},
      {"GlobalAvgPool", [] { return std::make_unique<GlobalAvgPool>("gap"); }, {n, 64, 32, 32}},
      {"Linear 512->10", [] { return std::make_unique<Linear>("fc", 512, 10); }, {n, 512}},
      {"Linear 1024->128", [] { return std::make_unique<Linear>("fc", 1024, 128); }, {n, 1024}},
      {"Dropout 0.25 (train)",
       [] { return std::make_unique<Dropout>("drop", 0.25, 1); },
       {n, 32, 24, 24}},
      {"Upsample x2 bilinear",
       [] {
         return std::make_unique<UpsampleBilinear2d>("up", UpsampleScale{2, 2});
       },
       {n, 128, 16, 16}},
  };
}

}  // namespace
}  // namespace nsal::bench

static int run(int argc, char** argv) {
  using namespace nsal;
  using namespace nsal::bench;
  int repeats = 9;
  int64_t batch = 128;
  std::string filter, csv_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--batch" && i + 1 < argc) {
      batch = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--filter" && i + 1 < argc) {
      filter = argv[++i];
    } else if (a == "--csv" && i + 1 < argc) {
      csv_path = argv[++i];
    } else {
      fmt::print(
          stderr,
          "usage: bench_layers_cpu [--repeats N] [--batch N] [--filter TEXT] [--csv PATH]\n");
      return 2;
    }
  }
  const kernels::BackendInfo info = kernels::backend_info();
  fmt::print("cpu: {}\nthreads: {} (OpenMP), batch {}, float32, {} repeats, median\n",
             info.cpu_name, omp_get_max_threads(), batch, repeats);
  OutputFile csv;
  if (!csv_path.empty()) {
    csv = OutputFile(csv_path);
    csv.print("layer,input,forward_ms,forward_gbs,fwd_bwd_ms,fwd_bwd_gbs,threads,cpu\n");
  }
  fmt::print("{:<22} {:<18} {:>8} {:>7} {:>9} {:>7}\n", "layer", "input", "fwd ms", "GB/s",
             "f+b ms", "GB/s");
  bool all_ok = true;
  for (const Case& c : cases(batch)) {
    const std::string label = c.name + " " + shape_str(c.in);
    if (!filter.empty() && label.find(filter) == std::string::npos) continue;
    if (!validate(c)) {
      all_ok = false;
      continue;
    }
    Context ctx;
    Instance inst(c, DType::f32);
    Tensor x = Tensor::from_vector(random_values(shape_numel(c.in), 3), c.in, DType::f32);
    const Shape ys = inst.layer->output_shape(c.in);
    Tensor dy = Tensor::from_vector(random_values(shape_numel(ys), 4), ys, DType::f32);
    const double fwd = median_of(repeats, [&] { inst.layer->forward(ctx, x); });
    const double both = median_of(repeats, [&] {
      inst.layer->forward(ctx, x);
      inst.layer->backward(ctx, dy);
    });
    // Least traffic: forward reads x and writes y; backward reads dy (and x or y) and writes dx.
    const double xb = static_cast<double>(x.nbytes()), yb = static_cast<double>(dy.nbytes());
    const double fwd_gbs = (xb + yb) / fwd * 1e-9;
    const double both_gbs = (xb + yb + yb + xb + xb) / both * 1e-9;
    fmt::print("{:<22} {:<18} {:>8.2f} {:>7.1f} {:>9.2f} {:>7.1f}\n", c.name, shape_str(c.in),
               fwd * 1e3, fwd_gbs, both * 1e3, both_gbs);
    csv.print("{},{},{:.4f},{:.2f},{:.4f},{:.2f},{},{}\n", csv_quote(c.name),
              csv_quote(shape_str(c.in)), fwd * 1e3, fwd_gbs, both * 1e3, both_gbs,
              omp_get_max_threads(), csv_quote(info.cpu_name));
  }
  csv.close();
  return all_ok ? 0 : 1;
}

int main(int argc, char** argv) {
  return nsal::bench::guarded_main("bench_layers_cpu", [&] { return run(argc, argv); });
}
