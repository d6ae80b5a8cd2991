// Finite-difference gradient check for any single-input Layer, in float64 (Caffe-style).
// loss(x, theta) = sum(forward(x) * r) for a fixed random r, so dL/dy = r. Central differences
// on every input and parameter element (or an evenly spaced sample of at most max_checks per
// tensor) are compared with backward(r).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "nn/layer.h"

namespace nsal::testing {

inline void fill_uniform(Tensor& t, std::mt19937_64& rng, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (auto& e : v)
    e = u(rng);
  Tensor src = Tensor::from_vector(v, t.shape(), t.dtype());
  t.copy_from(src);
}

struct GradCheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
  int max_checks = 200;  // per tensor; evenly spaced indices beyond that
  bool check_input = true;
  bool training = true;
  uint64_t seed = 1234;
  // Fills the input (default uniform(-1, 1)); use it to keep away from kinks (ReLU, max pool).
  std::function<void(Tensor&, std::mt19937_64&)> fill_input;
  // Fills the parameters after allocation (default uniform(-1, 1) over the whole arena).
  std::function<void(ParamArena&, std::mt19937_64&)> fill_params;
};

inline double sum_product(const Tensor& y, const Tensor& r) {
  double s = 0;
  const double* a = y.data<double>();
  const double* b = r.data<double>();
  for (int64_t i = 0; i < y.numel(); ++i)
    s += a[i] * b[i];
  return s;
}

// Checks d(loss)/dx and d(loss)/dtheta of `layer` (declared in a fresh float64 arena here).
inline void expect_gradients_match(Layer& layer, const Shape& in_shape, GradCheckOptions opt = {}) {
  std::mt19937_64 rng(opt.seed);
  Context ctx(Device::cpu());
  ParamArena arena;
  layer.declare(arena);
  arena.allocate(DType::f64, Device::cpu());
  if (opt.fill_params)
    opt.fill_params(arena, rng);
  else
    fill_uniform(arena.params(), rng);
  layer.set_training(opt.training);
  layer.set_needs_input_grad(opt.check_input);

  Tensor x(in_shape, DType::f64);
  if (opt.fill_input)
    opt.fill_input(x, rng);
  else
    fill_uniform(x, rng);
  Tensor r(layer.output_shape(in_shape), DType::f64);
  fill_uniform(r, rng);

  arena.zero_grad();
  layer.forward(ctx, x);
  const Tensor& dx_view = layer.backward(ctx, r);
  Tensor dx = opt.check_input ? dx_view.clone() : Tensor();

  auto loss = [&]() {
    const Tensor& y = layer.forward(ctx, x);
    return sum_product(y, r);
  };
  auto check_tensor = [&](double* values, const double* analytic, int64_t n,
                          const std::string& what) {
    int64_t step = n > opt.max_checks ? n / opt.max_checks : 1;
    int bad = 0;
    for (int64_t i = 0; i < n; i += step) {
      double keep = values[i];
      values[i] = keep + opt.eps;
      double lp = loss();
      values[i] = keep - opt.eps;
      double lm = loss();
      values[i] = keep;
      double numeric = (lp - lm) / (2 * opt.eps);
      double tol = opt.atol + opt.rtol * std::abs(numeric);
      // Written so that a NaN on either side is a mismatch.
      if (!(std::isfinite(numeric) && std::abs(numeric - analytic[i]) <= tol) && bad++ < 5)
        ADD_FAILURE() << layer.type() << " '" << layer.name() << "' " << what << "[" << i
                      << "]: analytic " << analytic[i] << " vs numeric " << numeric;
    }
    EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches";
  };

  if (opt.check_input) check_tensor(x.data<double>(), dx.data<double>(), x.numel(), "input");
  Tensor grads = arena.grads().clone();
  for (const ParamInfo& p : arena.param_infos())
    check_tensor(arena.params().data<double>() + p.offset, grads.data<double>() + p.offset, p.numel,
                 p.name);
}

}  // namespace nsal::testing
