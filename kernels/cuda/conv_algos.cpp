#include "kernels/cuda/conv_algos.h"

#include <utility>
#include <vector>

#include "kernels/cuda/device_array.h"

namespace nsal::cuda {

namespace {

// Whether an algorithm's math type is allowed under m.
bool math_allowed(MathMode m, cudnnMathType_t t) {
  if (m == MathMode::strict_fp32) return t == CUDNN_FMA_MATH;
  return t != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;  // that one may round to fp16
}

// cuDNN's heuristic candidates (fastest first) that succeeded, have an allowed math type, are
// deterministic when asked and fit the workspace cap, in cuDNN's order; `fallback` (an algorithm
// that cuDNN documents as supporting every configuration deterministically in FMA math) closes
// the list, unless cuDNN reported it nondeterministic for this shape while determinism is asked
// for. No candidate left is a CudaError: deterministic mode never runs an algorithm cuDNN calls
// nondeterministic.
template <typename Perf, typename Algo>
std::vector<std::pair<Algo, cudnnMathType_t>> candidates(
    const std::vector<Perf>& perf, int returned, MathMode math, bool deterministic, Algo fallback,
    const char* direction, size_t max_bytes = kMaxConvWorkspaceBytes) {
  std::vector<std::pair<Algo, cudnnMathType_t>> out;
  bool has_fallback = false, fallback_nondeterministic = false;
  for (int i = 0; i < returned; ++i) {
    const Perf& r = perf[i];
    if (r.status != CUDNN_STATUS_SUCCESS) continue;
    const bool is_fallback = r.algo == fallback && r.mathType == requested_math(math);
    if (deterministic && r.determinism != CUDNN_DETERMINISTIC) {
      fallback_nondeterministic = fallback_nondeterministic || is_fallback;
      continue;
    }
    if (!math_allowed(math, r.mathType)) continue;
    if (r.memory > max_bytes) continue;
    out.emplace_back(r.algo, r.mathType);
    has_fallback = has_fallback || is_fallback;
  }
  if (!has_fallback && !fallback_nondeterministic) out.emplace_back(fallback, requested_math(math));
  if (out.empty())
    throw CudaError(fmt::format(
        "convolution {}: cuDNN reports no deterministic algorithm for this shape in {} math "
        "(not even algorithm {}, which it documents as deterministic)",
        direction, math_mode_name(math), static_cast<int>(fallback)));
  return out;
}

// Autotuning (GpuExec::conv_autotune): cuDNN times every algorithm of a direction on the call's
// own inputs, writing into a scratch output (the real output is never touched, so an in-place
// forward blend and the accumulating filter gradient stay right), with at most
// kAutotuneWorkspaceBytes of trial workspace; the candidates are then the timed ones, fastest
// first, under the same filters as the heuristics' list. The scratch is a temporary allocation,
// freed afterwards (the timing waits for the device anyway), so the context's workspace keeps the
// size the chosen algorithm needs. Each timed choice returns false, after saying why, when the
// scratch cannot be had or cuDNN cannot time the shape (the heuristics choose).
constexpr size_t kAutotuneWorkspaceBytes = size_t{256} << 20;

// Scratch for one timing: an output of `out_elems` elements of `plan`'s storage, then the trial
// workspace. False (after saying why) when there is no room.
bool autotune_scratch(kernels::GpuHandles& h, const ConvPlan& plan, int64_t out_elems,
                      const char* direction, kernels::DeviceArray<char>& scratch,
                      size_t& out_bytes) {
  const size_t elem = plan.storage == ConvStorage::bf16_channels_last ? 2 : 4;
  out_bytes = (static_cast<size_t>(out_elems) * elem + 255) / 256 * 256;
  try {
    scratch.resize(out_bytes + kAutotuneWorkspaceBytes, h.device(), "conv autotune scratch");
  } catch (const OutOfMemoryError& e) {
    fmt::print(stderr, "nsal: conv {} autotune for {}: {}; using cuDNN's heuristics\n", direction,
               plan.params.str(), e.what());
    return false;
  }
  return true;
}

// Whether cuDNN timed the shape; says why not otherwise.
bool timed(cudnnStatus_t s, const ConvPlan& plan, const char* direction) {
  if (s == CUDNN_STATUS_SUCCESS) return true;
  fmt::print(stderr,
             "nsal: conv {} autotune for {}: cuDNN could not time it ({}); using its heuristics\n",
             direction, plan.params.str(), cudnnGetErrorString(s));
  return false;
}

bool choose_fwd_timed(const kernels::GpuExec& ex, ConvPlan& plan, const void* x, const void* w) {
  kernels::GpuHandles& h = *ex.handles;
  kernels::DeviceArray<char> scratch;
  size_t y_bytes = 0;
  if (!autotune_scratch(h, plan, plan.params.y_numel(), "forward", scratch, y_bytes)) return false;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  if (!timed(cudnnFindConvolutionForwardAlgorithmEx(
                 h.cudnn(), plan.x, x, plan.w, w, plan.fwd, plan.y, scratch.get(), max_count,
                 &returned, perf.data(), scratch.get() + y_bytes, kAutotuneWorkspaceBytes),
             plan, "forward"))
    return false;
  plan.fwd_algo.rest =
      candidates(perf, returned, plan.math, plan.deterministic,
                 CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, "forward", kAutotuneWorkspaceBytes);
  take_next(plan.fwd_algo, plan.fwd, fwd_ws_size(h, plan), "conv forward");
  return true;
}

bool choose_bwd_data_timed(const kernels::GpuExec& ex, ConvPlan& plan, const void* dy,
                           const void* w) {
  kernels::GpuHandles& h = *ex.handles;
  kernels::DeviceArray<char> scratch;
  size_t dx_bytes = 0;
  if (!autotune_scratch(h, plan, plan.params.x_numel(), "backward data", scratch, dx_bytes))
    return false;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  if (!timed(cudnnFindConvolutionBackwardDataAlgorithmEx(
                 h.cudnn(), plan.w, w, plan.y, dy, plan.bwd_data, plan.x, scratch.get(), max_count,
                 &returned, perf.data(), scratch.get() + dx_bytes, kAutotuneWorkspaceBytes),
             plan, "backward data"))
    return false;
  plan.bwd_data_algo.rest =
      candidates(perf, returned, plan.math, plan.deterministic, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
                 "backward data", kAutotuneWorkspaceBytes);
  take_next(plan.bwd_data_algo, plan.bwd_data, bwd_data_ws_size(h, plan), "conv backward data");
  return true;
}

bool choose_bwd_filter_timed(const kernels::GpuExec& ex, ConvPlan& plan, const void* x,
                             const void* dy) {
  kernels::GpuHandles& h = *ex.handles;
  kernels::DeviceArray<char> scratch;
  size_t dw_bytes = 0;
  if (!autotune_scratch(h, plan, plan.params.w_numel(), "backward filter", scratch, dw_bytes))
    return false;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  if (!timed(
          cudnnFindConvolutionBackwardFilterAlgorithmEx(
              h.cudnn(), plan.x, x, plan.y, dy, plan.bwd_filter, plan.w, scratch.get(), max_count,
              &returned, perf.data(), scratch.get() + dw_bytes, kAutotuneWorkspaceBytes),
          plan, "backward filter"))
    return false;
  plan.bwd_filter_algo.rest =
      candidates(perf, returned, plan.math, plan.deterministic, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
                 "backward filter", kAutotuneWorkspaceBytes);
  take_next(plan.bwd_filter_algo, plan.bwd_filter, bwd_filter_ws_size(h, plan),
            "conv backward filter");
  return true;
}

}  // namespace

cudnnMathType_t requested_math(MathMode m) {
  // CUDNN_DEFAULT_MATH lets cuDNN run fp32 convolutions as TF32 on Ampere and newer, so strict
  // fp32 has to ask for FMA math explicitly. bf16 has no fp32-data convolution in this API: it
  // runs as TF32 (tensor ops), the nearest reduced precision.
  return m == MathMode::strict_fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

const char* math_name(cudnnMathType_t t) {
  switch (t) {
    case CUDNN_DEFAULT_MATH:
      return "default";
    case CUDNN_TENSOR_OP_MATH:
      return "tensor-op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
      return "tensor-op-conversion";
    case CUDNN_FMA_MATH:
      return "fma";
  }
  return "?";
}

const char* fwd_algo_name(cudnnConvolutionFwdAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM:
      return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
      return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
      return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT:
      return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING:
      return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD:
      return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    default:
      return "?";
  }
}

const char* bwd_data_algo_name(cudnnConvolutionBwdDataAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0:
      return "ALGO_0";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1:
      return "ALGO_1";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING:
      return "FFT_TILING";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD:
      return "WINOGRAD";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    default:
      return "?";
  }
}

const char* bwd_filter_algo_name(cudnnConvolutionBwdFilterAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0:
      return "ALGO_0";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1:
      return "ALGO_1";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3:
      return "ALGO_3";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING:
      return "FFT_TILING";
    default:
      return "?";
  }
}

// Whether cuDNN refused an algorithm for this configuration (cuDNN 9 splits "not supported"
// into finer codes of one category).
bool refused(cudnnStatus_t s) {
#ifdef CUDNN_STATUS_CATEGORY
  return CUDNN_STATUS_CATEGORY(s) == CUDNN_STATUS_NOT_SUPPORTED;
#else
  return s == CUDNN_STATUS_NOT_SUPPORTED;
#endif
}

void choose_fwd(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex, const void* x,
                const void* w) {
  if (plan.fwd_algo.ready) return;
  if (plan.autotune && ex && x && w && choose_fwd_timed(*ex, plan, x, w)) return;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
      h.cudnn(), plan.x, plan.w, plan.fwd, plan.y, max_count, &returned, perf.data()));
  plan.fwd_algo.rest = candidates(perf, returned, plan.math, plan.deterministic,
                                  CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, "forward");
  take_next(plan.fwd_algo, plan.fwd, fwd_ws_size(h, plan), "conv forward");
}

void choose_bwd_data(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex,
                     const void* dy, const void* w) {
  if (plan.bwd_data_algo.ready) return;
  if (plan.autotune && ex && dy && w && choose_bwd_data_timed(*ex, plan, dy, w)) return;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      h.cudnn(), plan.w, plan.y, plan.bwd_data, plan.x, max_count, &returned, perf.data()));
  plan.bwd_data_algo.rest = candidates(perf, returned, plan.math, plan.deterministic,
                                       CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, "backward data");
  take_next(plan.bwd_data_algo, plan.bwd_data, bwd_data_ws_size(h, plan), "conv backward data");
}

void choose_bwd_filter(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex,
                       const void* x, const void* dy) {
  if (plan.bwd_filter_algo.ready) return;
  if (plan.autotune && ex && x && dy && choose_bwd_filter_timed(*ex, plan, x, dy)) return;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      h.cudnn(), plan.x, plan.y, plan.bwd_filter, plan.w, max_count, &returned, perf.data()));
  plan.bwd_filter_algo.rest = candidates(perf, returned, plan.math, plan.deterministic,
                                         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, "backward filter");
  take_next(plan.bwd_filter_algo, plan.bwd_filter, bwd_filter_ws_size(h, plan),
            "conv backward filter");
}

}  // namespace nsal::cuda
