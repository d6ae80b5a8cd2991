// What a noise-stability draw costs (DESIGN section 3): perturb + exact restore of a
// ResNet-18 (CIFAR) sized parameter arena, beside a plain copy of the same arena in the same
// run, on the CPU and (when a device answers) the GPU; plus top-N and greedy k-center.
//
//   bench_perturb [--reps N] [--out results.json] [--cpu-only]
//
// Validates first (perturbed values against the element formula, bit-exact restore, GPU equal
// to CPU), warms up, repeats, prints medians, rates and the machine, and writes JSON.
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "benchmarks/bench_output.h"
#include "kernels/backend_info.h"
#include "kernels/memory.h"
#include "kernels/noise_perturber.h"
#include "kernels/select.h"

#ifdef NSAL_WITH_CUDA
#include <cuda_runtime.h>
#endif

using namespace nsal;
using kernels::NoiseDist;
using kernels::NoisePerturber;
using kernels::NoiseScaling;
using kernels::NoiseSegment;
using kernels::NoiseSpec;

namespace {

// ResNet-18 for CIFAR (3x3 stem, no max-pool, 10 classes): 62 tensors, 11,173,962 parameters,
// in declaration order, each padded to 64 elements as nn/param_arena.h lays them out.
struct Arena {
  std::vector<NoiseSegment> segments;
  std::vector<int64_t> fan_in;  // conv/linear fan-in; 0 for BN gamma (-1 for beta and biases)
  int64_t numel = 0, params = 0;
};

Arena resnet18_cifar() {
  Arena a;
  auto add = [&](int64_t n, int64_t fan) {
    a.segments.push_back({a.numel, n});
    a.fan_in.push_back(fan);
    a.params += n;
    a.numel = (a.numel + n + 63) / 64 * 64;
  };
  auto bn = [&](int64_t c) {
    add(c, 0);
    add(c, -1);
  };
  add(64 * 3 * 9, 27);
  bn(64);
  int64_t in = 64;
  for (int64_t out : {64, 128, 256, 512}) {
    for (int block = 0; block < 2; ++block) {
      int64_t cin = block == 0 ? in : out;
      add(out * cin * 9, cin * 9);
      bn(out);
      add(out * out * 9, out * 9);
      bn(out);
      if (block == 0 && cin != out) {
        add(out * cin, cin);
        bn(out);
      }
    }
    in = out;
  }
  add(10 * 512, 512);
  add(10, -1);
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Median wall time of f over reps runs after 2 warm-ups; `sync` waits for the device.
double time_ms(int reps, const std::function<void()>& f, const std::function<void()>& sync) {
  for (int i = 0; i < 2; ++i)
    f();
  sync();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    double t0 = now_ms();
    f();
    sync();
    t.push_back(now_ms() - t0);
  }
  return median(t);
}

struct Row {
  std::string device, what;
  double ms = 0, rate = 0;
  std::string unit, note;
};

std::vector<Row> rows;

void report(const Row& r) {
  rows.push_back(r);
  fmt::print("  {:<5} {:<44} {:>10.3f} ms  {:>9.2f} {:<8} {}\n", r.device, r.what, r.ms, r.rate,
             r.unit, r.note);
}

bool same_bits(const float* a, const float* b, int64_t n) {
  return std::memcmp(a, b, sizeof(float) * n) == 0;
}

void sync_none() {}

// The arena's clean weights: He-normal conv/linear weights, BN gamma ~ 1, small biases/betas.
std::vector<float> make_weights(const Arena& a) {
  std::vector<float> w(a.numel, 0.0f);
  std::vector<float> z(a.numel);
  kernels::noise_fill(z.data(), 0, a.numel, 2024, 0, NoiseDist::gaussian);
  for (size_t s = 0; s < a.segments.size(); ++s) {
    const NoiseSegment& g = a.segments[s];
    const int64_t fan = a.fan_in[s];
    for (int64_t i = g.offset; i < g.offset + g.numel; ++i)
      w[i] =
          fan > 0 ? z[i] * std::sqrt(2.0f / fan) : (fan == 0 ? 1.0f + 0.1f * z[i] : 0.02f * z[i]);
  }
  return w;
}

// Perturbed values against the element formula on a sample, and a bit-exact restore.
void validate(NoisePerturber& np, std::vector<float>& w, const std::vector<float>& clean,
              const Arena& a, const NoiseSpec& spec) {
  np.perturb(w.data(), spec, 0);
  std::vector<float> sc = np.last_scales();
  std::mt19937 rng(1);
  for (int k = 0; k < 20000; ++k) {
    size_t s = rng() % a.segments.size();
    int64_t i = a.segments[s].offset + rng() % a.segments[s].numel;
    float ref = kernels::apply_delta(
        clean[i], kernels::noise_delta(sc[s], kernels::noise_at(spec.seed, 0, i, spec.dist)));
    if (kernels::fp::bits(ref) != kernels::fp::bits(w[i]))
      throw std::runtime_error(fmt::format("validation: element {} perturbed wrongly", i));
  }
  np.restore(w.data());
  if (!same_bits(w.data(), clean.data(), a.numel))
    throw std::runtime_error("validation: restore is not bit-exact");
}

void bench_cpu_perturb(const Arena& a, int reps, const std::string& threads) {
  std::vector<float> clean = make_weights(a), w = clean, copy(a.numel);
  const double bytes = sizeof(float) * double(a.numel);
  NoisePerturber np(a.segments.data(), int(a.segments.size()), a.numel);
  np.measure_weights(w.data());
  NoiseSpec paper{7, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-3};
  validate(np, w, clean, a, paper);
  kernels::NoiseDrawStats st = np.perturb(w.data(), paper, 1);
  const float xi = np.last_scales()[0];
  np.restore(w.data());
  NoiseSpec constant{7, NoiseDist::gaussian, NoiseScaling::constant, xi};  // same magnitude

  double t_copy = time_ms(
      reps, [&] { std::memcpy(copy.data(), w.data(), sizeof(float) * a.numel); }, sync_none);
  uint64_t k = 0;
  double t_norm = time_ms(
      reps, [&] { np.noise_sumsq(7, k++, NoiseDist::gaussian); }, sync_none);
  std::vector<double> tp, tr, tg;
  for (int i = 0; i < reps + 2; ++i) {
    double t0 = now_ms();
    np.perturb(w.data(), constant, 10 + i);
    double t1 = now_ms();
    np.restore(w.data());
    double t2 = now_ms();
    np.perturb(w.data(), paper, 100 + i);
    double t3 = now_ms();
    np.restore(w.data());
    if (i >= 2) {
      tp.push_back(t1 - t0);
      tr.push_back(t2 - t1);
      tg.push_back(t3 - t2);
    }
  }
  if (!same_bits(w.data(), clean.data(), a.numel))
    throw std::runtime_error("CPU: restore after the timed draws is not bit-exact");
  double p = median(tp), r = median(tr), g = median(tg);
  report({"cpu", "copy (memcpy) of the arena", t_copy, 2 * bytes / t_copy / 1e6, "GB/s", threads});
  report({"cpu", "noise norm pass (regenerated)", t_norm, a.params / t_norm / 1e3, "Melem/s", ""});
  report({"cpu", "perturb pass (constant scale)", p, 2 * bytes / p / 1e6, "GB/s", ""});
  report({"cpu", "restore pass", r, 2 * bytes / r / 1e6, "GB/s", ""});
  report({"cpu", "perturb + restore", p + r, (p + r) / t_copy, "copies",
          "target <= 2.5 copies (GPU)"});
  report({"cpu", "paper draw: norm + perturb + restore", g + r, (g + r) / t_copy, "copies", ""});
  report({"cpu", "extra memory", 0, 100.0 * np.extra_bytes() / bytes, "% arena",
          fmt::format("{} bytes; {} logged, {} fallback tiles at lambda 1e-3", np.extra_bytes(),
                      st.logged, st.fallback_tiles)});
}

void bench_cpu_select(int reps) {
  std::mt19937 rng(3);
  std::vector<float> s(50000);
  for (float& v : s)
    v = float(rng() % 1000000) * 1e-6f;
  std::vector<int64_t> out(2500);
  double t = time_ms(
      reps, [&] { kernels::top_n(s.data(), s.size(), 2500, out.data()); }, sync_none);
  report({"cpu", "top-N (N 50000, k 2500)", t, s.size() / t / 1e3, "Melem/s", ""});
  const int64_t n = 20000, d = 100, budget = 100;
  std::vector<float> x(n * d);
  kernels::noise_fill(x.data(), 0, n * d, 5, 0, NoiseDist::gaussian);
  std::vector<int64_t> sel(budget);
  double tk = time_ms(
      std::max(3, reps / 4),
      [&] { kernels::kcenter_greedy(x.data(), n, d, nullptr, 0, budget, sel.data()); }, sync_none);
  report({"cpu", "k-center (20000 x 100, budget 100)", tk, budget * double(n) * d * 4 / tk / 1e6,
          "GB/s", "feature bytes read per centre"});
}

#ifdef NSAL_WITH_CUDA
void cuda_sync() {
  cudaDeviceSynchronize();
}

void bench_gpu(const Arena& a, int reps) {
  std::vector<float> clean = make_weights(a);
  const double bytes = sizeof(float) * double(a.numel);
  float* w = static_cast<float*>(kernels::cuda_alloc(bytes, 0, "bench arena"));
  float* copy = static_cast<float*>(kernels::cuda_alloc(bytes, 0, "bench copy"));
  kernels::copy_bytes(w, true, clean.data(), false, bytes);
  NoisePerturber np(a.segments.data(), int(a.segments.size()), a.numel, true);
  NoisePerturber cpu(a.segments.data(), int(a.segments.size()), a.numel);
  np.measure_weights(w);
  std::vector<float> wc = clean;
  cpu.measure_weights(wc.data());
  NoiseSpec paper{7, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-3};
  // Validate: the GPU's perturbed arena equals the CPU's bit for bit; restore is exact.
  kernels::NoiseDrawStats st = np.perturb(w, paper, 1);
  cpu.perturb(wc.data(), paper, 1);
  std::vector<float> back(a.numel);
  kernels::copy_bytes(back.data(), false, w, true, bytes);
  if (!same_bits(back.data(), wc.data(), a.numel))
    throw std::runtime_error("GPU: perturbed arena differs from the CPU's");
  const float xi = np.last_scales()[0];
  np.restore(w);
  cpu.restore(wc.data());
  kernels::copy_bytes(back.data(), false, w, true, bytes);
  if (!same_bits(back.data(), clean.data(), a.numel))
    throw std::runtime_error("GPU: restore is not bit-exact");
  NoiseSpec constant{7, NoiseDist::gaussian, NoiseScaling::constant, xi};

  // Device times from events (on the legacy stream, which the perturber and the copy use); the
  // perturb pass includes its one small synchronising readback of the exception counters, and
  // its host wall time is reported beside it. The arena (45 MB) would fit in an H100/H200's L2
  // cache (50 MB), where a pass right after another on the same bytes would run from the cache;
  // in acquisition forward passes come between, so every timed pass starts after a write of
  // 256 MB that evicts it, outside the timed window.
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  const size_t flush_bytes = size_t{256} << 20;
  void* flush_buf = kernels::cuda_alloc(flush_bytes, 0, "bench L2 flush");
  int flushes = 0;
  auto flush_l2 = [&] {
    cudaMemsetAsync(flush_buf, ++flushes & 0xff, flush_bytes);
    cudaDeviceSynchronize();
  };
  auto event_elapsed = [&] {
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    return static_cast<double>(ms);
  };
  auto event_ms = [&](const std::function<void()>& f) {
    std::vector<double> t;
    for (int i = 0; i < reps + 3; ++i) {
      flush_l2();
      cudaEventRecord(e0);
      f();
      cudaEventRecord(e1);
      if (i >= 3) t.push_back(event_elapsed());
    }
    return median(t);
  };
  double t_copy = event_ms([&] { cudaMemcpyAsync(copy, w, bytes, cudaMemcpyDeviceToDevice); });
  uint64_t k = 0;
  double t_norm = time_ms(
      reps, [&] { np.noise_sumsq(7, k++, NoiseDist::gaussian); }, cuda_sync);
  std::vector<double> tp, tpw, tr, tg, trw;
  for (int i = 0; i < reps + 3; ++i) {
    flush_l2();
    const double t0 = now_ms();
    cudaEventRecord(e0);
    np.perturb(w, constant, 10 + i);
    cudaEventRecord(e1);
    const double pe = event_elapsed();
    const double t1 = now_ms();
    flush_l2();
    const double t2 = now_ms();
    cudaEventRecord(e0);
    np.restore(w);
    cudaEventRecord(e1);
    const double re = event_elapsed();
    const double t3 = now_ms();
    flush_l2();
    const double t4 = now_ms();
    np.perturb(w, paper, 1000 + i);
    const double t5 = now_ms();
    np.restore(w);
    cuda_sync();
    if (i >= 3) {
      tp.push_back(pe);
      tpw.push_back(t1 - t0);
      tr.push_back(re);
      trw.push_back(t3 - t2);
      tg.push_back(t5 - t4);
    }
  }
  kernels::cuda_free(flush_buf);
  kernels::copy_bytes(back.data(), false, w, true, bytes);
  if (!same_bits(back.data(), clean.data(), a.numel))
    throw std::runtime_error("GPU: restore after the timed draws is not bit-exact");
  double p = median(tp), r = median(tr), g = median(tg);
  report({"cuda", "copy (cudaMemcpy D2D) of the arena, L2 flushed", t_copy,
          2 * bytes / t_copy / 1e6, "GB/s", ""});
  report({"cuda", "noise norm pass (regenerated, + readback)", t_norm, a.params / t_norm / 1e3,
          "Melem/s", ""});
  report({"cuda", "perturb pass (constant scale, + readback; events)", p, 2 * bytes / p / 1e6,
          "GB/s", fmt::format("host wall {:.3f} ms", median(tpw))});
  report({"cuda", "restore pass (events)", r, 2 * bytes / r / 1e6, "GB/s",
          fmt::format("host wall {:.3f} ms", median(trw))});
  report({"cuda", "perturb + restore", p + r, (p + r) / t_copy, "copies", "target <= 2.5"});
  report({"cuda", "paper draw: norm + perturb (host wall) + restore", g + r, (g + r) / t_copy,
          "copies", ""});
  report({"cuda", "extra memory", 0, 100.0 * np.extra_bytes() / bytes, "% arena",
          fmt::format("{} bytes; {} logged, {} fallback tiles", np.extra_bytes(), st.logged,
                      st.fallback_tiles)});
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  kernels::cuda_free(w);
  kernels::cuda_free(copy);

  // top-N on 1M scores, k-center on 100k x 500.
  {
    const int64_t n = 1000000, kk = 2500;
    std::vector<float> s(n);
    kernels::noise_fill(s.data(), 0, n, 9, 0, NoiseDist::uniform);
    float* ds = static_cast<float*>(kernels::cuda_alloc(sizeof(float) * n, 0, "bench scores"));
    kernels::copy_bytes(ds, true, s.data(), false, sizeof(float) * n);
    std::vector<int64_t> og(kk), oc(kk);
    kernels::top_n(ds, n, kk, og.data(), true);
    kernels::top_n(s.data(), n, kk, oc.data());
    if (og != oc) throw std::runtime_error("GPU top-N differs from the CPU's");
    double t = time_ms(
        reps, [&] { kernels::top_n(ds, n, kk, og.data(), true); }, cuda_sync);
    report({"cuda", "top-N (N 1000000, k 2500)", t, n / t / 1e3, "Melem/s", ""});
    kernels::cuda_free(ds);
  }
  {
    const int64_t n = 100000, d = 500, budget = 1000;
    std::vector<float> x(n * d);
    kernels::noise_fill(x.data(), 0, n * d, 11, 0, NoiseDist::gaussian);
    float* dx = static_cast<float*>(kernels::cuda_alloc(sizeof(float) * n * d, 0, "bench x"));
    kernels::copy_bytes(dx, true, x.data(), false, sizeof(float) * n * d);
    size_t wsb = kernels::kcenter_workspace_bytes(n, 0, budget);
    void* ws = kernels::cuda_alloc(wsb, 0, "bench k-center workspace");
    std::vector<int64_t> sel(budget), ref(20);
    kernels::kcenter_greedy(dx, n, d, nullptr, 0, 20, sel.data(), true, ws, wsb);
    kernels::kcenter_greedy(x.data(), n, d, nullptr, 0, 20, ref.data());
    if (!std::equal(ref.begin(), ref.end(), sel.begin()))
      throw std::runtime_error("GPU k-center differs from the CPU's");
    double t = time_ms(
        3,
        [&] { kernels::kcenter_greedy(dx, n, d, nullptr, 0, budget, sel.data(), true, ws, wsb); },
        cuda_sync);
    report({"cuda", "k-center (100000 x 500, budget 1000)", t, budget * double(n) * d * 4 / t / 1e6,
            "GB/s", "feature bytes read per centre"});
    kernels::cuda_free(ws);
    kernels::cuda_free(dx);
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  int reps = 15;
  std::string out = "bench_perturb.json";
  bool cpu_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--out" && i + 1 < argc)
      out = argv[++i];
    else if (a == "--cpu-only")
      cpu_only = true;
    else {
      fmt::print(stderr, "usage: bench_perturb [--reps N] [--out file.json] [--cpu-only]\n");
      return 2;
    }
  }
  kernels::BackendInfo info = kernels::backend_info();
  Arena a = resnet18_cifar();
  std::string threads = fmt::format("{} OpenMP threads", omp_get_max_threads());
  fmt::print(
      "bench_perturb: ResNet-18 (CIFAR) arena, {} tensors, {} parameters, {} elements "
      "with padding ({:.1f} MB)\n",
      a.segments.size(), a.params, a.numel, a.numel * 4 / 1e6);
  fmt::print("machine: {}, {}\n", info.cpu_name, threads);
  try {
    bench_cpu_perturb(a, reps, threads);
    bench_cpu_select(reps);
    std::string gpu = "none";
    if (cpu_only) {
      fmt::print("  cuda  skipped: --cpu-only\n");
    } else if (kernels::cuda_device_count() == 0) {
      fmt::print("  cuda  skipped: {}\n", kernels::cuda_unavailable_reason());
    } else {
#ifdef NSAL_WITH_CUDA
      gpu = info.gpus.empty() ? "cuda:0" : info.gpus[0].name;
      fmt::print("gpu: {}\n", gpu);
      bench_gpu(a, reps);
#endif
    }
    nsal::bench::OutputFile f(out);
    using nsal::bench::json_quote;
    f.print(
        "{{\"benchmark\": \"bench_perturb\", \"cpu\": {}, \"threads\": {}, \"gpu\": {}, "
        "\"params\": {}, \"arena_elements\": {}, \"rows\": [\n",
        json_quote(info.cpu_name), omp_get_max_threads(), json_quote(gpu), a.params, a.numel);
    for (size_t i = 0; i < rows.size(); ++i)
      f.print(
          "  {{\"device\": {}, \"what\": {}, \"median_ms\": {:.6f}, \"rate\": {:.6f}, "
          "\"unit\": {}, \"note\": {}}}{}\n",
          json_quote(rows[i].device), json_quote(rows[i].what), rows[i].ms, rows[i].rate,
          json_quote(rows[i].unit), json_quote(rows[i].note), i + 1 < rows.size() ? "," : "");
    f.print("]}}\n");
    f.close();
    fmt::print("wrote {}\n", out);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_perturb: {}\n", e.what());
    return 1;
  }
  return 0;
}
