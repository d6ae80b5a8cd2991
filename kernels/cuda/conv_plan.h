// Per-shape cuDNN convolution state: descriptors and the algorithm chosen for each direction,
// made once per (ConvParams, math mode, deterministic flag) and kept in the GpuHandles. The
// algorithm of each direction is chosen on its first use (inference never chooses backward
// ones).
#pragma once

#include <array>
#include <map>
#include <memory>

#include "kernels/conv_params.h"
#include "kernels/cuda/cudnn_desc.h"
#include "kernels/math_mode.h"

namespace nsal::cuda {

// Largest workspace an algorithm may ask for (cuDNN's heuristics list faster algorithms first;
// those needing more are skipped).
constexpr size_t kMaxConvWorkspaceBytes = size_t{1} << 30;

enum class Tristate : uint8_t { unknown, yes, no };

struct ConvPlan {
  kernels::ConvParams params;
  MathMode math = MathMode::strict_fp32;
  bool deterministic = false;
  TensorDesc x, y, bias;  // bias: (1, C_out, 1, 1[, 1])
  FilterDesc w;
  // One convolution descriptor per direction: each carries the math type of its algorithm.
  ConvDesc fwd, bwd_data, bwd_filter, fused_identity;
  ActivationDesc relu, identity;

  bool fwd_ready = false, bwd_data_ready = false, bwd_filter_ready = false;
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo{};
  size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
  cudnnMathType_t fwd_math{}, bwd_data_math{}, bwd_filter_math{};

  // Fused conv + bias + activation: whether cuDNN ran it for this shape (learnt on first use).
  Tristate fused_relu_ok = Tristate::unknown, fused_identity_ok = Tristate::unknown;
  size_t fused_identity_ws = 0;  // identity needs IMPLICIT_PRECOMP_GEMM
};

class ConvPlanCache {
 public:
  // The plan for p (descriptors set, no algorithm chosen yet when new).
  ConvPlan& get(const kernels::ConvParams& p, MathMode math, bool deterministic);
  size_t size() const { return plans_.size(); }

 private:
  using Key = std::array<int, 24>;
  std::map<Key, std::unique_ptr<ConvPlan>> plans_;
};

}  // namespace nsal::cuda
