// Whole-model CPU throughput and memory: (a) eval-mode forward of resnet18-cifar (Model::infer,
// the inference memory plan, as evaluation and scoring run it), (b) training
// steps (forward + cross-entropy + backward + SGD with momentum) of resnet18-cifar and mnist-cnn,
// (c) the peak resident memory of each case beside the parameter bytes. The same cases run in
// PyTorch with benchmarks/torch_models_cpu.py; scripts/bench_cpu_vs_torch.sh runs both.
//
//   bench_models_cpu [--threads N] [--repeats N] [--batch N] [--filter TEXT] [--json PATH]
//                    [--no-winograd]
//
// --no-winograd runs the 3x3 stride-1 convolutions as im2col + GEMM instead of Winograd
// F(2x2, 3x3) (kernels/cpu/conv_cpu.h), to measure what Winograd brings.
// --batch overrides every case's batch (default: eval 256, training 128 / 64 and 128).
// Before timing, each model's float32 forward is validated against the float64 forward of the
// same weights, and one SGD step on a fixed batch must lower its loss.
//
// Memory: peak RSS (VmHWM of /proc/self/status, reset per case through /proc/self/clear_refs)
// and the peak above the RSS before the model was built, so the figure covers parameters,
// gradients, optimizer state, activations and workspace. Each case runs in its own process.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "benchmarks/bench_output.h"
#include "kernels/backend_info.h"
#include "kernels/cpu/conv_cpu.h"
#include "nn/losses.h"
#include "nn/models/registry.h"
#include "nn/optim/optimizer.h"

namespace {

using namespace nsal;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// kB value of a field of /proc/self/status ("VmHWM", "VmRSS"); -1 when unavailable.
int64_t status_kb(const std::string& field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false when the kernel refuses.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return f.good();
}

void fill_random(Tensor& t, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (auto& e : v)
    e = u(rng);
  t.copy_from(Tensor::from_vector(v, t.shape(), t.dtype()));
}

Tensor random_labels(int64_t n, int64_t classes, std::mt19937_64& rng) {
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& e : v)
    e = static_cast<double>(rng() % static_cast<uint64_t>(classes));
  return Tensor::from_vector(v, {n}, DType::i32);
}

Shape batch_shape(const Model& m, int64_t batch) {
  Shape s{batch};
  for (int64_t d : m.input_shape())
    s.push_back(d);
  return s;
}

struct Case {
  std::string name, arch;
  int64_t in_channels, classes, batch;
  bool train;
};

struct Result {
  Case c;
  double median_s = 0, images_per_s = 0;
  int64_t param_bytes = 0, peak_rss_kb = -1, peak_over_base_kb = -1;
};

// f32 eval forward vs the f64 forward of the same weights (same seed), relative to the largest
// output; and 3 SGD steps on one batch must lower the loss.
bool validate(const Case& c) {
  Context ctx;
  std::mt19937_64 rng(3);
  auto m32 = make_model({c.arch, c.in_channels, c.classes});
  auto m64 = make_model({c.arch, c.in_channels, c.classes});
  m32->build(Device::cpu(), 1);
  m64->build(Device::cpu(), 1, DType::f64);
  m32->set_training(false);
  m64->set_training(false);
  Tensor x64(batch_shape(*m64, 4), DType::f64);
  fill_random(x64, rng);
  Tensor x32 = x64.to_dtype(DType::f32);
  std::vector<double> a = m32->forward(ctx, x32).to_vector();
  std::vector<double> b = m64->forward(ctx, x64).to_vector();
  double err = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  if (!(err <= 1e-4 * scale)) {
    fmt::print(stderr, "validation FAILED for {}: float32 forward off by {:.3g} (max |y| {:.3g})\n",
               c.name, err, scale);
    return false;
  }
  // One plain SGD step along the gradient must lower the loss (eval mode: fixed BN statistics
  // and no dropout, so both losses see the same function).
  Sgd opt(m32->arena(), SgdOptions{0.01f, 0.0f, 0.0f, 0.0f, false});
  CrossEntropyLoss ce;
  Tensor y = random_labels(4, c.classes, rng);
  opt.zero_grad(ctx);
  double before = ce.forward(ctx, m32->forward(ctx, x32), y);
  m32->backward(ctx, ce.backward(ctx));
  opt.step(ctx);
  double after = ce.forward(ctx, m32->forward(ctx, x32), y);
  if (!(std::isfinite(after) && after < before)) {
    fmt::print(stderr, "validation FAILED for {}: loss {:.6f} -> {:.6f} after an SGD step\n",
               c.name, before, after);
    return false;
  }
  return true;
}

Result run_case(const Case& c, int repeats) {
  Result r;
  r.c = c;
  bool hwm = reset_peak_rss();
  int64_t base_kb = status_kb("VmRSS");
  {
    Context ctx;
    std::mt19937_64 rng(7);
    auto m = make_model({c.arch, c.in_channels, c.classes});
    m->build(Device::cpu(), 1);
    m->set_training(c.train);
    r.param_bytes = m->arena().num_params() * 4;
    Tensor x(batch_shape(*m, c.batch));
    fill_random(x, rng);
    Tensor y = random_labels(c.batch, c.classes, rng);
    Sgd opt(m->arena(), SgdOptions{0.01f, 0.9f, 0.0f, 5e-4f, false});
    CrossEntropyLoss ce;
    std::function<void()> step = [&] {
      if (!c.train) {  // as evaluation and scoring run it: under the inference memory plan
        m->infer(ctx, x);
        return;
      }
      opt.zero_grad(ctx);
      ce.forward(ctx, m->forward(ctx, x), y);
      m->backward(ctx, ce.backward(ctx));
      opt.step(ctx);
    };
    step();  // warm-up: buffers and workspace reach their size
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
      auto a = std::chrono::steady_clock::now();
      step();
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    r.median_s = median(t);
    r.images_per_s = static_cast<double>(c.batch) / r.median_s;
    r.peak_rss_kb = status_kb("VmHWM");
    if (hwm && base_kb >= 0) r.peak_over_base_kb = r.peak_rss_kb - base_kb;
  }
  return r;
}

// Runs one case in a child process (this program with --one-case), so that memory an earlier
// case freed but the allocator kept cannot hide this case's peak, and reads back its result.
// The parent itself computes nothing (GNU OpenMP does not survive fork; this uses exec).
bool run_isolated(const std::string& self, size_t index, const Case& c, int threads, int repeats,
                  bool winograd, Result& r) {
  std::string cmd = fmt::format("'{}' --one-case {} --threads {} --repeats {} --batch {}{}", self,
                                index, threads, repeats, c.batch, winograd ? "" : " --no-winograd");
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) return false;
  char line[512] = {0};
  bool got = false;
  long long pb = 0, peak = 0, over = 0;
  while (std::fgets(line, sizeof line, p))
    if (std::sscanf(line, "RESULT %lf %lf %lld %lld %lld", &r.median_s, &r.images_per_s, &pb, &peak,
                    &over) == 5)
      got = true;
  int status = pclose(p);
  r.c = c;
  r.param_bytes = pb;
  r.peak_rss_kb = peak;
  r.peak_over_base_kb = over;
  return got && status == 0;
}

std::vector<Case> all_cases() {
  return {
      {"resnet18-cifar eval", "resnet18-cifar", 3, 10, 256, false},
      {"resnet18-cifar train", "resnet18-cifar", 3, 10, 128, true},
      {"mnist-cnn train", "mnist-cnn", 1, 10, 64, true},
      {"mnist-cnn train", "mnist-cnn", 1, 10, 128, true},
  };
}

}  // namespace

static int run(int argc, char** argv) {
  int threads = 2, repeats = 3;
  int64_t batch = 0;
  long one_case = -1;
  std::string filter, json_path;
  bool winograd = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-winograd") {
      winograd = false;
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--repeats" && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else if (a == "--batch" && i + 1 < argc) {
      batch = std::atoll(argv[++i]);
    } else if (a == "--filter" && i + 1 < argc) {
      filter = argv[++i];
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--one-case" && i + 1 < argc) {
      one_case = std::atol(argv[++i]);
    } else {
      fmt::print(stderr,
                 "usage: bench_models_cpu [--threads N] [--repeats N] [--batch N] [--filter TEXT] "
                 "[--json PATH] [--no-winograd]\n");
      return 2;
    }
  }
  if (threads < 1 || repeats < 1) {
    fmt::print(stderr, "--threads and --repeats must be positive\n");
    return 2;
  }
  std::vector<Case> cases = all_cases();
  if (one_case >= 0) {  // the child: validate, time, print one RESULT line
    if (one_case >= static_cast<long>(cases.size())) return 2;
    Case c = cases[static_cast<size_t>(one_case)];
    if (batch > 0) c.batch = batch;
    kernels::cpu::set_conv_winograd(winograd);
    Context ctx;
    ctx.set_threads(threads);
    if (!validate(c)) return 1;
    Result r = run_case(c, repeats);
    fmt::print("RESULT {:.9g} {:.9g} {} {} {}\n", r.median_s, r.images_per_s, r.param_bytes,
               r.peak_rss_kb, r.peak_over_base_kb);
    return 0;
  }

  kernels::BackendInfo info = kernels::backend_info();
  fmt::print(
      "cpu: {}\nblas: {}\nthreads: {}, {} timed repeats after 1 warm-up, median; each case in its "
      "own process; 3x3 stride-1 convolutions: {}\n",
      info.cpu_name, info.blas, threads, repeats, winograd ? "Winograd" : "im2col + GEMM");
  char self[4096] = {0};
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string self_path = n > 0 ? std::string(self, static_cast<size_t>(n)) : argv[0];
  std::vector<Result> results;
  for (size_t i = 0; i < cases.size(); ++i) {
    Case c = cases[i];
    if (batch > 0) c.batch = batch;
    std::string label = fmt::format("{} b{}", c.name, c.batch);
    if (!filter.empty() && label.find(filter) == std::string::npos) continue;
    Result r;
    if (!run_isolated(self_path, i, c, threads, repeats, winograd, r)) {
      fmt::print(stderr, "{}: the case failed (validation or run), see above\n", label);
      return 1;
    }
    results.push_back(r);
    fmt::print(
        "{:<28} {:>9.1f} ms {:>9.1f} images/s   params {:>7.1f} MiB   peak RSS {:>7.1f} MiB "
        "(+{:.1f} MiB over the process before the model)\n",
        label, r.median_s * 1e3, r.images_per_s, r.param_bytes / 1048576.0, r.peak_rss_kb / 1024.0,
        r.peak_over_base_kb / 1024.0);
    std::fflush(stdout);
  }
  if (!json_path.empty()) {
    nsal::bench::OutputFile f(json_path);
    f.print("{{\"framework\": \"nsal\", \"threads\": {}, \"cpu\": {}, \"results\": [\n", threads,
            nsal::bench::json_quote(info.cpu_name));
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      f.print(
          "  {{\"case\": {}, \"arch\": {}, \"batch\": {}, \"train\": {}, "
          "\"median_s\": {:.6g}, \"images_per_s\": {:.6g}, \"param_bytes\": {}, "
          "\"peak_rss_kb\": {}, \"peak_over_base_kb\": {}}}{}\n",
          nsal::bench::json_quote(r.c.name), nsal::bench::json_quote(r.c.arch), r.c.batch,
          r.c.train ? "true" : "false", r.median_s, r.images_per_s, r.param_bytes, r.peak_rss_kb,
          r.peak_over_base_kb, i + 1 < results.size() ? "," : "");
    }
    f.print("]}}\n");
    f.close();
  }
  return 0;
}

int main(int argc, char** argv) {
  return nsal::bench::guarded_main("bench_models_cpu", [&] { return run(argc, argv); });
}
