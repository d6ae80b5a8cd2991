// Helpers shared by the layer tests: random tensors, inputs that stay away from kinks, element-
// wise comparison with a naive reference, a float32-vs-float64 check, and finite differences
// for the ops that are not Layers (losses, residual add, concat).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "nn/layer.h"
#include "tests/gradcheck.h"

namespace nsal::testing {

inline Tensor random_tensor(const Shape& shape, std::mt19937_64& rng, DType dtype = DType::f64,
                            double lo = -1.0, double hi = 1.0) {
  Tensor t(shape, dtype);
  fill_uniform(t, rng, lo, hi);
  return t;
}

// Uniform values whose distance to every kink is at least `margin`.
inline void fill_away_from(Tensor& t, std::mt19937_64& rng, std::vector<double> kinks, double lo,
                           double hi, double margin = 0.05) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (auto& e : v) {
    bool near;
    do {
      e = u(rng);
      near = false;
      for (double k : kinks)
        near = near || std::abs(e - k) < margin;
    } while (near);
  }
  t.copy_from(Tensor::from_vector(v, t.shape(), t.dtype()));
}

// Distinct values (a shuffled grid with spacing `gap`), so that max pooling has no ties.
inline void fill_distinct(Tensor& t, std::mt19937_64& rng, double gap = 1e-2) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = (static_cast<double>(i) - static_cast<double>(v.size()) / 2) * gap;
  std::shuffle(v.begin(), v.end(), rng);
  t.copy_from(Tensor::from_vector(v, t.shape(), t.dtype()));
}

inline void expect_values_near(const std::vector<double>& got, const std::vector<double>& want,
                               double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - want[i]);
    if (!(err <= tol * (1.0 + std::abs(want[i]))) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches";
}

inline void expect_tensor_near(const Tensor& got, const std::vector<double>& want, double tol,
                               const std::string& what) {
  expect_values_near(got.to_vector(), want, tol, what);
}

// Expects `f` to throw an nsal::Error whose message contains every one of `parts`.
template <typename F>
void expect_error_mentions(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception thrown";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message '" << msg << "' lacks '" << p << "'";
  }
}

// Runs forward and backward of a layer built by `make` in float32 and in float64 with the same
// inputs and parameters, and expects agreement to float32 precision (output, input gradient and
// parameter gradients).
inline void expect_f32_matches_f64(
    const std::function<std::unique_ptr<Layer>()>& make, const Shape& in_shape, double tol = 2e-5,
    const std::function<void(Tensor&, std::mt19937_64&)>& fill = {}) {
  std::mt19937_64 rng(99);
  Tensor x64(in_shape, DType::f64);
  if (fill)
    fill(x64, rng);
  else
    fill_uniform(x64, rng);
  std::vector<double> out[2], dx[2], dp[2];
  std::vector<double> params, dy;
  for (int k = 0; k < 2; ++k) {
    const DType dt = k == 0 ? DType::f64 : DType::f32;
    auto layer = make();
    ParamArena arena;
    layer->declare(arena);
    arena.allocate(dt, Device::cpu());
    if (k == 0) {
      fill_uniform(arena.params(), rng);
      params = arena.params().to_vector();
    } else {
      arena.params().copy_from(Tensor::from_vector(params, arena.params().shape(), dt));
    }
    Context ctx;
    Tensor x = x64.to_dtype(dt);
    const Tensor& y = layer->forward(ctx, x);
    out[k] = y.to_vector();
    if (k == 0) {
      Tensor r(y.shape(), DType::f64);
      fill_uniform(r, rng);
      dy = r.to_vector();
    }
    Tensor g = Tensor::from_vector(dy, y.shape(), dt);
    dx[k] = layer->backward(ctx, g).to_vector();
    dp[k] = arena.grads().to_vector();
  }
  expect_values_near(out[1], out[0], tol, "float32 output");
  expect_values_near(dx[1], dx[0], tol, "float32 input gradient");
  expect_values_near(dp[1], dp[0], tol, "float32 parameter gradients");
}

// Central-difference derivative of f with respect to each of `n` values (float64).
inline std::vector<double> numeric_gradient(const std::function<double()>& f, double* values,
                                            int64_t n, double eps = 1e-6) {
  std::vector<double> g(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double keep = values[i];
    values[i] = keep + eps;
    const double lp = f();
    values[i] = keep - eps;
    const double lm = f();
    values[i] = keep;
    g[static_cast<size_t>(i)] = (lp - lm) / (2 * eps);
  }
  return g;
}

}  // namespace nsal::testing
