// Per-shape cuDNN convolution state: descriptors and the algorithm chosen for each direction,
// made once per (ConvParams, math mode, deterministic flag, storage, autotune flag) and kept in
// the GpuHandles. The
// algorithm of each direction is chosen on its first use (inference never chooses backward
// ones): the first of cuDNN's heuristic candidates that the math mode and determinism allow.
// cuDNN's heuristics can list an algorithm that the call then refuses for the shape, so until
// one call has run, a refusal (or a workspace that cannot be allocated) moves on to the next
// candidate; the one that ran stays.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "kernels/conv_params.h"
#include "kernels/cuda/cudnn_desc.h"
#include "kernels/math_mode.h"

namespace nsal::cuda {

// Largest workspace an algorithm may ask for (cuDNN's heuristics list faster algorithms first;
// those needing more are skipped).
constexpr size_t kMaxConvWorkspaceBytes = size_t{1} << 30;

enum class Tristate : uint8_t { unknown, yes, no };

// How a plan's tensors are stored: float32 NCHW / NCDHW with OIHW weights (every op), or
// bfloat16 channels-last (NHWC / NDHWC, weights OHWI) with float32 accumulation, for the bf16
// inference path (forward only).
enum class ConvStorage : uint8_t { f32_nchw, bf16_channels_last };

// The algorithm of one direction (forward, backward data or backward filter) of one plan.
template <typename Algo>
struct AlgoChoice {
  bool ready = false;     // chosen
  bool verified = false;  // a call has run with `algo`
  Algo algo{};
  cudnnMathType_t math{};
  size_t ws = 0;  // workspace bytes of `algo`
  // cuDNN's later allowed candidates, in its order, tried while no call has run.
  std::vector<std::pair<Algo, cudnnMathType_t>> rest;
};

struct ConvPlan {
  kernels::ConvParams params;
  MathMode math = MathMode::strict_fp32;  // bf16 for bf16 storage, whatever was asked
  bool deterministic = false;
  ConvStorage storage = ConvStorage::f32_nchw;
  bool autotune = false;  // each direction's algorithm timed on first use (GpuExec::conv_autotune)
  TensorDesc x, y, bias;  // bias: (1, C_out, 1, 1[, 1]), of the tensors' data type
  FilterDesc w;
  // One convolution descriptor per direction: each carries the math type of its algorithm.
  ConvDesc fwd, bwd_data, bwd_filter, fused_identity;
  ActivationDesc relu, identity;

  AlgoChoice<cudnnConvolutionFwdAlgo_t> fwd_algo;
  AlgoChoice<cudnnConvolutionBwdDataAlgo_t> bwd_data_algo;
  AlgoChoice<cudnnConvolutionBwdFilterAlgo_t> bwd_filter_algo;

  // Fused conv + bias + activation: whether cuDNN ran it for this shape (learnt on first use).
  Tristate fused_relu_ok = Tristate::unknown, fused_identity_ok = Tristate::unknown;
  // IMPLICIT_PRECOMP_GEMM's workspace on `fused_identity` (the identity fusion's only algorithm,
  // and the ReLU fusion's when the forward algorithm does not fuse: fused_relu_precomp).
  size_t fused_identity_ws = 0;
  bool fused_precomp_ws_known = false;
  bool fused_relu_precomp = false;
};

class ConvPlanCache {
 public:
  // The plan for p (descriptors set, no algorithm chosen yet when new).
  ConvPlan& get(const kernels::ConvParams& p, MathMode math, bool deterministic,
                ConvStorage storage = ConvStorage::f32_nchw, bool autotune = false);
  size_t size() const { return plans_.size(); }

 private:
  using Key = std::array<int, 24>;
  std::map<Key, std::unique_ptr<ConvPlan>> plans_;
};

}  // namespace nsal::cuda
