// Comparing a GPU result with the CPU's in the GPU tests (test_cuda_layers.cpp,
// test_cuda_models.cpp), with the tolerance vocabulary they share:
// exact() = bit for bit (same float operations on both sides); l2(t) = relative L2 error of the
// whole tensor at most t (summation order differs: cuDNN / cuBLAS algorithms against im2col +
// OpenBLAS); within(a, r) = |gpu - cpu| <= a + r |cpu| per element (element-wise math whose
// order or rounding differs slightly: expf, double vs float accumulators, fused multiply-adds in
// device code). NaN must meet NaN.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "nn/param_arena.h"
#include "nn/tensor.h"

namespace nsal::testing {

struct Tol {
  enum Kind { kExact, kL2, kClose } kind = kExact;
  double a = 0, r = 0;
};
inline Tol exact() {
  return {Tol::kExact, 0, 0};
}
inline Tol l2(double t) {
  return {Tol::kL2, t, 0};
}
inline Tol within(double atol, double rtol) {
  return {Tol::kClose, atol, rtol};
}

inline void expect_match(const std::vector<double>& gpu, const std::vector<double>& cpu, Tol tol,
                         const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  int bad = 0;
  double num = 0, den = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double g = gpu[i], c = cpu[i];
    num += (g - c) * (g - c);
    den += c * c;
    bool ok;
    if (std::isnan(c))
      ok = std::isnan(g);
    else if (tol.kind == Tol::kExact)
      ok = g == c;
    else if (tol.kind == Tol::kClose)
      ok = std::abs(g - c) <= tol.a + tol.r * std::abs(c);
    else
      ok = std::isfinite(g);
    if (!ok && bad++ < 5) ADD_FAILURE() << what << "[" << i << "]: gpu " << g << ", cpu " << c;
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << gpu.size() << " elements differ";
  if (tol.kind == Tol::kL2) {
    const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    EXPECT_LE(rel, tol.a) << what << ": relative L2 error";
  }
}

inline void expect_match(const Tensor& gpu, const Tensor& cpu, Tol tol, const std::string& what) {
  ASSERT_TRUE(gpu.device().is_cuda()) << what << ": " << gpu.describe();
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  expect_match(gpu.to_vector(), cpu.to_vector(), tol, what);
}

// Running means in [-0.5, 0.5], variances in [0.5, 1.5], counts 0.
inline void init_buffers(ParamArena& arena, std::mt19937_64& rng) {
  if (arena.buffers().numel() == 0) return;
  std::vector<double> b(static_cast<size_t>(arena.buffers().numel()), 0.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (const ParamInfo& info : arena.buffer_infos()) {
    const bool var = info.name.find("running_var") != std::string::npos;
    const bool mean = info.name.find("running_mean") != std::string::npos;
    for (int64_t j = 0; j < info.numel; ++j)
      b[static_cast<size_t>(info.offset + j)] = var ? 0.5 + u(rng) : mean ? u(rng) - 0.5 : 0.0;
  }
  arena.buffers().copy_from(Tensor::from_vector(b, arena.buffers().shape(), arena.dtype()));
}

}  // namespace nsal::testing
