// Whole-model finite-difference check in float64: loss = sum(forward(x) * r), central
// differences on a sample of parameters compared with backward(r). Dropout layers are rewound to
// the same step before every forward, so training mode sees the same masks each time.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "gradcheck.h"
#include "nn/layers/dropout.h"
#include "nn/model.h"

namespace nsal::testing {

struct ModelGradCheckOptions {
  bool training = true;
  bool one_per_tensor = false;  // one element per tensor (the middle) instead of first/middle/last
  int tensor_stride = 1;        // check every k-th parameter tensor (always the first and last)
  uint64_t seed = 5;
};

inline void check_model_gradients(Model& m, const Shape& in_shape, ModelGradCheckOptions opt = {}) {
  Context ctx;
  std::mt19937_64 rng(11);
  m.build(Device::cpu(), opt.seed, DType::f64);
  m.set_training(opt.training);
  std::vector<Dropout*> dropouts;
  for (const auto& l : m.layers())
    if (auto* d = dynamic_cast<Dropout*>(l.get())) dropouts.push_back(d);
  auto run = [&](const Tensor& x) -> const Tensor& {
    for (Dropout* d : dropouts)
      d->set_step(0);
    return m.forward(ctx, x);
  };
  Tensor x(in_shape, DType::f64);
  fill_uniform(x, rng);
  Tensor r(run(x).shape(), DType::f64);
  fill_uniform(r, rng);
  m.arena().zero_grad();
  run(x);
  m.backward(ctx, r);
  Tensor grads = m.arena().grads().clone();
  double* p = m.arena().params().data<double>();
  auto loss = [&] { return sum_product(run(x), r); };
  const auto& infos = m.arena().param_infos();
  int checked = 0, bad = 0;
  for (size_t t = 0; t < infos.size(); ++t) {
    if (t % opt.tensor_stride != 0 && t + 1 != infos.size()) continue;
    const ParamInfo& info = infos[t];
    std::vector<int64_t> picks = {info.numel / 2};
    if (!opt.one_per_tensor) picks = {0, info.numel / 2, info.numel - 1};
    for (int64_t j : picks) {
      int64_t i = info.offset + j;
      double keep = p[i];
      auto central = [&](double eps) {
        p[i] = keep + eps;
        double lp = loss();
        p[i] = keep - eps;
        double lm = loss();
        p[i] = keep;
        return (lp - lm) / (2 * eps);
      };
      auto fits = [](double analytic, double numeric) {
        return std::abs(numeric - analytic) <= 1e-6 + 1e-5 * std::abs(numeric);
      };
      // Two step sizes, and either may agree: a small step keeps clear of ReLU kinks (a deep
      // network has many units near one, and a step that flips one biases the difference), a
      // larger one keeps clear of rounding (intermediate activations can be far larger than the
      // loss, e.g. before a training-mode BatchNorm). A wrong gradient fails both.
      double analytic = grads.data<double>()[i];
      double numeric = central(1e-8);
      if (!fits(analytic, numeric)) {
        double coarse = central(1e-6);
        if (!fits(analytic, coarse)) {
          if (bad++ < 5)
            ADD_FAILURE() << m.arch() << " " << info.name << "[" << j << "]: analytic " << analytic
                          << ", numeric " << numeric << " (step 1e-8) and " << coarse
                          << " (step 1e-6)";
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
  EXPECT_EQ(bad, 0) << "of " << checked;
}

}  // namespace nsal::testing
