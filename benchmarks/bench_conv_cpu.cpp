// CPU convolution at the shapes of ResNet-18 for CIFAR (batch 128): forward and forward+backward,
// median time, GFLOP/s, and the ratio to the sgemm GFLOP/s of the same BLAS measured in this run.
//
//   bench_conv_cpu [--quick] [--volumes | --dilated] [--repeats N] [--batch N] [--filter TEXT]
//                  [--csv PATH]
//
// --volumes: the 3D convolutions of resnet18-3d (32^3 single-channel volumes) instead, batch 8
// unless --batch says otherwise. --dilated: the dilated 3x3 convolutions of drn-d-22's levels 5
// to 7 on a 256x256 input (32x32 planes at stride 8), batch 8 unless --batch says otherwise.
// --filter keeps the cases whose name contains TEXT.
//
// The 3x3 stride-1 shapes run Winograd F(2x2, 3x3) (conv_winograd.h); each is then timed a second
// time, interleaved, with Winograd switched off (im2col + GEMM), in the line below it. GFLOP/s
// always counts the direct convolution's multiply-adds (Winograd's are fewer), so it is the rate
// at which a convolution gets done.
//
// Validates the kernels against the direct float64 reference before timing anything.
#include <cblas.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "benchmarks/bench_output.h"
#include "kernels/backend_info.h"
#include "kernels/cpu/conv_cpu.h"
#include "kernels/memory.h"
#include "tests/conv_reference.h"

namespace {

using nsal::kernels::ConvShape;
namespace cpu = nsal::kernels::cpu;
namespace bench = nsal::bench;

// 64-byte aligned host buffer.
template <typename T>
struct Buffer {
  T* p = nullptr;
  size_t n = 0;
  explicit Buffer(size_t count) : n(count) {
    p = static_cast<T*>(nsal::kernels::host_alloc(std::max<size_t>(count, 1) * sizeof(T)));
  }
  ~Buffer() { nsal::kernels::host_free(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void fill_random(std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (size_t i = 0; i < n; ++i)
      p[i] = u(rng);
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double seconds(const std::function<void()>& f) {
  auto a = std::chrono::steady_clock::now();
  f();
  auto b = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(b - a).count();
}

// Medians of several functions timed in turn, repetition by repetition, after one warm-up round:
// a change of load on a shared machine then affects all of them alike.
std::vector<double> interleaved_medians(int repeats, const std::vector<std::function<void()>>& fs) {
  for (const auto& f : fs)
    f();
  std::vector<std::vector<double>> t(fs.size());
  for (int r = 0; r < repeats; ++r)
    for (size_t i = 0; i < fs.size(); ++i)
      t[i].push_back(seconds(fs[i]));
  std::vector<double> m;
  for (auto& v : t)
    m.push_back(median(v));
  return m;
}

// A large square sgemm on all threads: the yardstick the convolutions are compared with.
struct Sgemm {
  int size;
  Buffer<float> a, b, c;
  explicit Sgemm(int sz) : size(sz), a(size_t(sz) * sz), b(size_t(sz) * sz), c(size_t(sz) * sz) {
    std::mt19937 rng(7);
    a.fill_random(rng);
    b.fill_random(rng);
  }
  void run() {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1.0f, a.p, size, b.p,
                size, 0.0f, c.p, size);
  }
  double flops() const { return 2.0 * double(size) * size * size; }
};

// Compares forward and all gradients of one shape with the float64 reference; false on mismatch.
bool validate(const ConvShape& s) {
  std::mt19937 rng(11);
  Buffer<float> x(s.x_numel()), w(s.w_numel()), b(s.k), y(s.y_numel()), dy(s.y_numel());
  Buffer<float> dx(s.x_numel()), dw(s.w_numel()), db(s.k);
  x.fill_random(rng);
  w.fill_random(rng);
  b.fill_random(rng);
  dy.fill_random(rng);
  std::fill(dw.p, dw.p + dw.n, 0.0f);
  std::fill(db.p, db.p + db.n, 0.0f);
  size_t ws_bytes = cpu::conv_workspace_bytes(s, sizeof(float));
  Buffer<char> ws(ws_bytes);
  cpu::conv_forward(s, x.p, w.p, b.p, y.p, ws.p, ws_bytes);
  cpu::conv_backward(s, x.p, w.p, dy.p, dx.p, dw.p, db.p, ws.p, ws_bytes);
  nsal::testing::ConvReference ref{s};
  std::vector<double> ry = ref.forward(x.p, w.p, b.p), rdx, rdw, rdb;
  ref.backward(x.p, w.p, dy.p, rdx, rdw, rdb);
  auto max_err = [](const float* got, const std::vector<double>& want) {
    double e = 0, scale = 1e-30;
    for (size_t i = 0; i < want.size(); ++i) {
      e = std::max(e, std::abs(got[i] - want[i]));
      scale = std::max(scale, std::abs(want[i]));
    }
    return e / scale;
  };
  double errs[4] = {max_err(y.p, ry), max_err(dx.p, rdx), max_err(dw.p, rdw), max_err(db.p, rdb)};
  const char* names[4] = {"y", "dx", "dw", "db"};
  bool ok = true;
  for (int i = 0; i < 4; ++i)
    if (!(errs[i] < 1e-4)) {
      fmt::print(stderr, "validation FAILED for {}: {} relative error {:.3g}\n", s.str(), names[i],
                 errs[i]);
      ok = false;
    }
  return ok;
}

struct Case {
  const char* name;
  ConvShape shape;
  bool input_grad;  // false for the stem: a model's first layer needs no input gradient
};

}  // namespace

static int run(int argc, char** argv) {
  bool quick = false, volumes = false, dilated = false;
  int repeats = 0, batch = 0;
  std::string csv_path, filter;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--volumes") {
      volumes = true;
    } else if (a == "--dilated") {
      dilated = true;
    } else if (a == "--repeats" && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else if (a == "--batch" && i + 1 < argc) {
      batch = std::atoi(argv[++i]);
    } else if (a == "--filter" && i + 1 < argc) {
      filter = argv[++i];
    } else if (a == "--csv" && i + 1 < argc) {
      csv_path = argv[++i];
    } else {
      fmt::print(
          stderr,
          "usage: bench_conv_cpu [--quick] [--volumes | --dilated] [--repeats N] [--batch N] "
          "[--filter TEXT] "
          "[--csv PATH]\n");
      return 2;
    }
  }
  if (repeats <= 0) repeats = quick ? 3 : 7;
  if (batch <= 0) batch = volumes || dilated ? 8 : 128;

  nsal::kernels::BackendInfo info = nsal::kernels::backend_info();
  fmt::print("cpu: {}\nblas: {}\nthreads: {} (OpenMP), batch {}, {} repeats, median\n",
             info.cpu_name, info.blas, omp_get_max_threads(), batch, repeats);

  // Validation first: a strided padded conv, a grouped one, and a batched-chunk pointwise one.
  bool ok = validate(nsal::kernels::conv2d_shape(5, 6, 9, 7, 8, 3, 3, 2, 1)) &&
            validate(nsal::kernels::conv2d_shape(4, 8, 6, 6, 40, 3, 3, 1, 1, 1, 4)) &&
            validate(nsal::kernels::conv2d_shape(8, 16, 4, 4, 32, 1, 1, 2, 0)) &&
            validate(nsal::kernels::conv3d_shape(3, 4, 5, 6, 5, 6, 3, 3, 3, 1, 1)) &&
            validate(nsal::kernels::conv2d_shape(8, 16, 15, 17, 24, 3, 3, 1, 1)) &&   // Winograd
            validate(nsal::kernels::conv2d_shape(8, 16, 15, 17, 24, 3, 3, 1, 2, 2));  // dilated
  if (!ok) return 1;
  fmt::print("validation against the float64 reference: ok\n");

  Sgemm sgemm(2048);
  fmt::print("yardstick: sgemm 2048^3 on all threads, timed in turn with each convolution\n\n");

  using nsal::kernels::conv2d_shape;
  const int n = batch;
  std::vector<Case> cases = {
      {"stem 3->64 32x32 3x3 (no dx)", conv2d_shape(n, 3, 32, 32, 64, 3, 3, 1, 1), false},
      {"layer1 64->64 32x32 3x3", conv2d_shape(n, 64, 32, 32, 64, 3, 3, 1, 1), true},
      {"layer2 64->128 32x32 3x3 s2", conv2d_shape(n, 64, 32, 32, 128, 3, 3, 2, 1), true},
      {"layer2 128->128 16x16 3x3", conv2d_shape(n, 128, 16, 16, 128, 3, 3, 1, 1), true},
      {"layer2 shortcut 64->128 1x1 s2", conv2d_shape(n, 64, 32, 32, 128, 1, 1, 2, 0), true},
      {"layer3 128->256 16x16 3x3 s2", conv2d_shape(n, 128, 16, 16, 256, 3, 3, 2, 1), true},
      {"layer3 256->256 8x8 3x3", conv2d_shape(n, 256, 8, 8, 256, 3, 3, 1, 1), true},
      {"layer3 shortcut 128->256 1x1 s2", conv2d_shape(n, 128, 16, 16, 256, 1, 1, 2, 0), true},
      {"layer4 256->512 8x8 3x3 s2", conv2d_shape(n, 256, 8, 8, 512, 3, 3, 2, 1), true},
      {"layer4 512->512 4x4 3x3", conv2d_shape(n, 512, 4, 4, 512, 3, 3, 1, 1), true},
      {"layer4 shortcut 256->512 1x1 s2", conv2d_shape(n, 256, 8, 8, 512, 1, 1, 2, 0), true},
  };
  if (dilated) {
    cases = {
        {"level5 256->256 32x32 3x3 d2", conv2d_shape(n, 256, 32, 32, 256, 3, 3, 1, 2, 2), true},
        {"level6 512->512 32x32 3x3 d4", conv2d_shape(n, 512, 32, 32, 512, 3, 3, 1, 4, 4), true},
        {"level7 512->512 32x32 3x3 d2", conv2d_shape(n, 512, 32, 32, 512, 3, 3, 1, 2, 2), true},
    };
  }
  if (volumes) {
    using nsal::kernels::conv3d_shape;
    cases = {
        {"stem 1->64 32^3 3x3x3 (no dx)", conv3d_shape(n, 1, 32, 32, 32, 64, 3, 3, 3, 1, 1), false},
        {"layer1 64->64 32^3 3x3x3", conv3d_shape(n, 64, 32, 32, 32, 64, 3, 3, 3, 1, 1), true},
        {"layer2 64->128 32^3 s2", conv3d_shape(n, 64, 32, 32, 32, 128, 3, 3, 3, 2, 1), true},
        {"layer2 128->128 16^3 3x3x3", conv3d_shape(n, 128, 16, 16, 16, 128, 3, 3, 3, 1, 1), true},
        {"layer3 128->256 16^3 s2", conv3d_shape(n, 128, 16, 16, 16, 256, 3, 3, 3, 2, 1), true},
        {"layer3 256->256 8^3 3x3x3", conv3d_shape(n, 256, 8, 8, 8, 256, 3, 3, 3, 1, 1), true},
        {"layer4 256->512 8^3 s2", conv3d_shape(n, 256, 8, 8, 8, 512, 3, 3, 3, 2, 1), true},
        {"layer4 512->512 4^3 3x3x3", conv3d_shape(n, 512, 4, 4, 4, 512, 3, 3, 3, 1, 1), true},
    };
  }

  bench::OutputFile csv;
  if (!csv_path.empty()) {
    csv = bench::OutputFile(csv_path);
    csv.print(
        "name,algorithm,n,c,k,d,h,w,kernel,stride,pad,pass,median_ms,gflops,ratio_to_sgemm,"
        "sgemm_gflops,threads,cpu\n");
  }
  fmt::print("{:<40} {:>9} {:>8} {:>7} {:>11} {:>8} {:>7} {:>8}\n",
             "conv (batch " + std::to_string(n) + ")", "fwd ms", "GFLOP/s", "/sgemm", "f+b ms",
             "GFLOP/s", "/sgemm", "sgemm");
  std::mt19937 rng(3);
  for (const Case& cs : cases) {
    if (!filter.empty() && std::string(cs.name).find(filter) == std::string::npos) continue;
    const ConvShape& s = cs.shape;
    Buffer<float> x(s.x_numel()), w(s.w_numel()), y(s.y_numel()), dy(s.y_numel());
    Buffer<float> dx(s.x_numel()), dw(s.w_numel());
    x.fill_random(rng);
    w.fill_random(rng);
    dy.fill_random(rng);
    std::fill(dw.p, dw.p + dw.n, 0.0f);
    const bool winograd = cpu::conv_uses_winograd(s);
    cpu::set_conv_winograd(false);
    const size_t im2col_bytes = cpu::conv_workspace_bytes(s, sizeof(float));
    cpu::set_conv_winograd(true);
    const size_t ws_bytes = std::max(cpu::conv_workspace_bytes(s, sizeof(float)), im2col_bytes);
    Buffer<char> ws(ws_bytes);
    std::memset(ws.p, 0, ws_bytes);  // touch the pages before timing
    auto forward = [&](bool wino) {
      cpu::set_conv_winograd(wino);
      cpu::conv_forward<float>(s, x.p, w.p, nullptr, y.p, ws.p, ws_bytes);
      cpu::set_conv_winograd(true);
    };
    auto both_passes = [&](bool wino) {
      cpu::set_conv_winograd(wino);
      cpu::conv_forward<float>(s, x.p, w.p, nullptr, y.p, ws.p, ws_bytes);
      cpu::conv_backward<float>(s, x.p, w.p, dy.p, cs.input_grad ? dx.p : nullptr, dw.p, nullptr,
                                ws.p, ws_bytes);
      cpu::set_conv_winograd(true);
    };
    std::vector<std::function<void()>> fs = {[&] { sgemm.run(); }, [&] { forward(true); },
                                             [&] { both_passes(true); }};
    if (winograd) {
      fs.push_back([&] { forward(false); });
      fs.push_back([&] { both_passes(false); });
    }
    const std::vector<double> t = interleaved_medians(repeats, fs);
    const double gemm = sgemm.flops() / t[0] * 1e-9;
    const double f1 = s.forward_flops();
    const double f3 = f1 * (cs.input_grad ? 3.0 : 2.0);
    for (int row = 0; row < (winograd ? 2 : 1); ++row) {
      const double fwd = t[1 + 2 * row], both = t[2 + 2 * row];
      const double g1 = f1 / fwd * 1e-9, g3 = f3 / both * 1e-9;
      const std::string name = row == 0 ? std::string(cs.name) + (winograd ? " [winograd]" : "")
                                        : std::string("  same, im2col + GEMM");
      fmt::print("{:<40} {:>9.2f} {:>8.1f} {:>6.0f}% {:>11.2f} {:>8.1f} {:>6.0f}% {:>8.1f}\n", name,
                 fwd * 1e3, g1, 100 * g1 / gemm, both * 1e3, g3, 100 * g3 / gemm, gemm);
      const char* algo = row == 0 && !winograd ? "default" : row == 0 ? "winograd" : "im2col";
      for (int pass = 0; pass < 2; ++pass)
        csv.print("{},{},{},{},{},{},{},{},{},{},{},{},{:.4f},{:.2f},{:.4f},{:.2f},{},{}\n",
                  bench::csv_quote(cs.name), algo, s.n, s.c, s.k, s.in[0], s.in[1], s.in[2],
                  s.kernel[1], s.stride[1], s.pad[1], pass == 0 ? "forward" : "forward+backward",
                  (pass ? both : fwd) * 1e3, pass ? g3 : g1, (pass ? g3 : g1) / gemm, gemm,
                  omp_get_max_threads(), bench::csv_quote(info.cpu_name));
    }
  }
  if (csv) {
    csv.close();
    fmt::print("\nwrote {}\n", csv_path);
  }
  return 0;
}

int main(int argc, char** argv) {
  return nsal::bench::guarded_main("bench_conv_cpu", [&] { return run(argc, argv); });
}
