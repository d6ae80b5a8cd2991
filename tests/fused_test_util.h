// Helpers of the fused-inference tests (tests/test_fused_inference.cpp,
// tests/test_bf16_inference.cpp, tests/test_cuda_bf16.cpp): the layers of one unit, BatchNorms
// with non-trivial statistics, and a relative L2 distance.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include <string>

#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"
#include "nn/param_arena.h"

namespace nsal::testing {

// A convolution and the BatchNorm after it with their own float32 arena on `device`: the layers
// of one fused unit, in training mode as layers start.
struct ConvBnLayers {
  ConvNd conv;
  BatchNorm bn;
  ParamArena arena;
  ConvBnLayers(int spatial, const ConvOptions& o, Device device = Device::cpu(),
               const std::string& conv_name = "c", const std::string& bn_name = "b")
      : conv(spatial, conv_name, o), bn(spatial, bn_name, o.out_channels) {
    conv.declare(arena);
    bn.declare(arena);
    arena.allocate(DType::f32, device);
  }
  void set_training(bool on) {
    conv.set_training(on);
    bn.set_training(on);
  }
};

inline double rel_l2(const std::vector<double>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  EXPECT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Gives every BatchNorm of a model non-trivial statistics and affine parameters (the default
// init is gamma 1, beta 0, mean 0, var 1, which would make folding almost the identity).
inline void randomise_batchnorms(ParamArena& arena, std::mt19937_64& rng) {
  std::vector<double> p = arena.params().to_vector(), b = arena.buffers().to_vector();
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (const ParamInfo& info : arena.param_infos()) {
    if (info.layer_type.rfind("batchnorm", 0) != 0) continue;
    for (int64_t j = 0; j < info.numel; ++j)
      p[static_cast<size_t>(info.offset + j)] =
          info.role == ParamRole::weight ? 0.5 + u(rng) : u(rng) - 0.5;
  }
  for (const ParamInfo& info : arena.buffer_infos()) {
    const bool var = info.name.size() > 3 && info.name.substr(info.name.size() - 3) == "var";
    const bool mean = info.name.size() > 4 && info.name.substr(info.name.size() - 4) == "mean";
    for (int64_t j = 0; j < info.numel; ++j) {
      double& v = b[static_cast<size_t>(info.offset + j)];
      if (var) v = 0.25 + 1.5 * u(rng);
      if (mean) v = 0.4 * (u(rng) - 0.5);
    }
  }
  arena.params().copy_from(Tensor::from_vector(p, arena.params().shape(), arena.dtype()));
  arena.buffers().copy_from(Tensor::from_vector(b, arena.buffers().shape(), arena.dtype()));
}

}  // namespace nsal::testing
