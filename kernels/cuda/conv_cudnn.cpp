// 2D/3D convolution on cuDNN's legacy (v7-style) API: forward, backward data, backward filter,
// bias gradient, and the fused conv + bias + activation (+ residual) inference path.
#include <fmt/format.h>

#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/conv_plan.h"
#include "kernels/cuda/device_array.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::cuda {

namespace {

cudnnMathType_t requested_math(MathMode m) {
  // CUDNN_DEFAULT_MATH lets cuDNN run fp32 convolutions as TF32 on Ampere and newer, so strict
  // fp32 has to ask for FMA math explicitly. bf16 has no fp32-data convolution in this API: it
  // runs as TF32 (tensor ops), the nearest reduced precision.
  return m == MathMode::strict_fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

// Whether an algorithm's math type is allowed under m.
bool math_allowed(MathMode m, cudnnMathType_t t) {
  if (m == MathMode::strict_fp32) return t == CUDNN_FMA_MATH;
  return t != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;  // that one may round to fp16
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

void set_conv_desc(cudnnConvolutionDescriptor_t d, const kernels::ConvParams& p,
                   cudnnMathType_t math) {
  NSAL_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(d, p.spatial, p.pad, p.stride, p.dilation,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  NSAL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d, p.groups));
  NSAL_CUDNN_CHECK(cudnnSetConvolutionMathType(d, math));
}

// cuDNN's heuristic candidates (fastest first) that succeeded, have an allowed math type, are
// deterministic when asked and fit the workspace cap, in cuDNN's order; `fallback` (an algorithm
// that supports every configuration deterministically in FMA math) closes the list.
template <typename Perf, typename Algo>
std::vector<std::pair<Algo, cudnnMathType_t>> candidates(
    const std::vector<Perf>& perf, int returned, MathMode math, bool deterministic, Algo fallback,
    size_t max_bytes = kMaxConvWorkspaceBytes) {
  std::vector<std::pair<Algo, cudnnMathType_t>> out;
  bool has_fallback = false;
  for (int i = 0; i < returned; ++i) {
    const Perf& r = perf[i];
    if (r.status != CUDNN_STATUS_SUCCESS) continue;
    if (deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
    if (!math_allowed(math, r.mathType)) continue;
    if (r.memory > max_bytes) continue;
    out.emplace_back(r.algo, r.mathType);
    has_fallback = has_fallback || (r.algo == fallback && r.mathType == requested_math(math));
  }
  if (!has_fallback) out.emplace_back(fallback, requested_math(math));
  return out;
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

// The first call of the fused conv + bias + activation: besides "not supported", cuDNN may
// answer a configuration it does not fuse (the activation's NaN option, the bias's data type)
// with the plain bad-parameter code or (cuDNN 9) the finer codes for a descriptor or attribute
// of a type it does not take there; all of them mean "run the unfused ops", which use the same
// descriptors and are checked on their own (the note on stderr names cuDNN's code). The other
// bad-parameter codes (a null or misaligned pointer, a workspace too small, a stream or graph
// mismatch, shapes that disagree), out of memory and failed executions are errors: they would be
// nsal's mistakes, not cuDNN's limits.
bool fusion_refused(cudnnStatus_t s) {
  if (refused(s) || s == CUDNN_STATUS_BAD_PARAM) return true;
#ifdef CUDNN_STATUS_CATEGORY
  return s == CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE || s == CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE;
#else
  return false;
#endif
}

// Says once per plan and activation that cuDNN refused the fusion, and why: the unfused ops
// give the same results, only slower.
void note_fusion_refused(const cuda::ConvPlan& plan, bool relu, cudnnStatus_t s, const char* op) {
  fmt::print(stderr,
             "nsal: {}: cuDNN does not fuse conv + bias + {} for {} ({}); running the "
             "unfused ops for this shape\n",
             op, relu ? "ReLU" : "identity", plan.params.str(), cudnnGetErrorString(s));
}

// Moves `a` to its next candidate: the candidate's math type goes on `desc` (cuDNN needs the
// descriptor's math type to match the algorithm's) and its workspace size comes from
// `ws_size(algo, &bytes)`; a candidate whose size query is refused is passed over.
template <typename Algo, typename WsSize>
void take_next(AlgoChoice<Algo>& a, cudnnConvolutionDescriptor_t desc, WsSize ws_size,
               const char* op) {
  NSAL_CHECK_AS(CudaError, !a.rest.empty(), "{}: cuDNN offered no algorithm that runs", op);
  while (!a.rest.empty()) {
    const auto [algo, math] = a.rest.front();
    a.rest.erase(a.rest.begin());
    NSAL_CUDNN_CHECK(cudnnSetConvolutionMathType(desc, math));
    size_t bytes = 0;
    const cudnnStatus_t s = ws_size(algo, &bytes);
    if (s != CUDNN_STATUS_SUCCESS && refused(s) && !a.rest.empty()) continue;
    NSAL_CUDNN_CHECK(s);
    a.algo = algo;
    a.math = math;
    a.ws = bytes;
    a.ready = true;
    return;
  }
}

// Runs `call(algo, workspace, workspace_bytes)`, a cuDNN call of direction `a`. Until one call
// has run, a candidate that cuDNN refuses, or whose workspace cannot be allocated, gives way to
// the next (a refusal is returned before anything is written).
template <typename Algo, typename WsSize, typename Call>
void run_choice(const kernels::GpuExec& ex, AlgoChoice<Algo>& a, cudnnConvolutionDescriptor_t desc,
                WsSize ws_size, Call call, const char* op) {
  if (a.verified) {
    NSAL_CUDNN_CHECK(call(a.algo, workspace_of(ex, a.ws, op), a.ws));
    return;
  }
  for (;;) {
    cudnnStatus_t s;
    try {
      s = call(a.algo, workspace_of(ex, a.ws, op), a.ws);
    } catch (const OutOfMemoryError& e) {
      if (a.rest.empty()) throw;
      // Unlike a refusal, this depends on the memory free at first use, so it is said aloud: the
      // algorithm (and the result's last bits) of this shape differ from a run with more room.
      fmt::print(stderr, "nsal: {}: {}; trying cuDNN's next algorithm for this shape\n", op,
                 e.what());
      take_next(a, desc, ws_size, op);
      continue;
    }
    if (s == CUDNN_STATUS_SUCCESS) {
      a.verified = true;
      return;
    }
    if (!refused(s) || a.rest.empty()) NSAL_CUDNN_CHECK(s);
    take_next(a, desc, ws_size, op);
  }
}

// Workspace size queries of the three directions, for take_next.
auto fwd_ws_size(kernels::GpuHandles& h, ConvPlan& plan) {
  return [&h, &plan](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h.cudnn(), plan.x, plan.w, plan.fwd, plan.y,
                                                   algo, bytes);
  };
}
auto bwd_data_ws_size(kernels::GpuHandles& h, ConvPlan& plan) {
  return [&h, &plan](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h.cudnn(), plan.w, plan.y, plan.bwd_data,
                                                        plan.x, algo, bytes);
  };
}
auto bwd_filter_ws_size(kernels::GpuHandles& h, ConvPlan& plan) {
  return [&h, &plan](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h.cudnn(), plan.x, plan.y,
                                                          plan.bwd_filter, plan.w, algo, bytes);
  };
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
                 CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, kAutotuneWorkspaceBytes);
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
  plan.bwd_data_algo.rest = candidates(perf, returned, plan.math, plan.deterministic,
                                       CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, kAutotuneWorkspaceBytes);
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
                 kAutotuneWorkspaceBytes);
  take_next(plan.bwd_filter_algo, plan.bwd_filter, bwd_filter_ws_size(h, plan),
            "conv backward filter");
  return true;
}

// The forward algorithm of `plan`, chosen on first use: timed on x and w when the plan asks for
// autotuning and they are given, else from cuDNN's heuristics.
void choose_fwd(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex = nullptr,
                const void* x = nullptr, const void* w = nullptr) {
  if (plan.fwd_algo.ready) return;
  if (plan.autotune && ex && x && w && choose_fwd_timed(*ex, plan, x, w)) return;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
      h.cudnn(), plan.x, plan.w, plan.fwd, plan.y, max_count, &returned, perf.data()));
  plan.fwd_algo.rest = candidates(perf, returned, plan.math, plan.deterministic,
                                  CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
  take_next(plan.fwd_algo, plan.fwd, fwd_ws_size(h, plan), "conv forward");
}

// The backward algorithms, chosen on first use like the forward one: timed on the call's
// inputs when the plan asks for autotuning and they are given, else from cuDNN's heuristics.
void choose_bwd_data(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex = nullptr,
                     const void* dy = nullptr, const void* w = nullptr) {
  if (plan.bwd_data_algo.ready) return;
  if (plan.autotune && ex && dy && w && choose_bwd_data_timed(*ex, plan, dy, w)) return;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      h.cudnn(), plan.w, plan.y, plan.bwd_data, plan.x, max_count, &returned, perf.data()));
  plan.bwd_data_algo.rest =
      candidates(perf, returned, plan.math, plan.deterministic, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1);
  take_next(plan.bwd_data_algo, plan.bwd_data, bwd_data_ws_size(h, plan), "conv backward data");
}

void choose_bwd_filter(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex = nullptr,
                       const void* x = nullptr, const void* dy = nullptr) {
  if (plan.bwd_filter_algo.ready) return;
  if (plan.autotune && ex && x && dy && choose_bwd_filter_timed(*ex, plan, x, dy)) return;
  int max_count = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h.cudnn(), &max_count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<size_t>(max_count));
  int returned = 0;
  NSAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      h.cudnn(), plan.x, plan.y, plan.bwd_filter, plan.w, max_count, &returned, perf.data()));
  plan.bwd_filter_algo.rest = candidates(perf, returned, plan.math, plan.deterministic,
                                         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
  take_next(plan.bwd_filter_algo, plan.bwd_filter, bwd_filter_ws_size(h, plan),
            "conv backward filter");
}

ConvPlan& plan_for(const kernels::GpuExec& ex, const kernels::ConvParams& p, const char* op,
                   ConvStorage storage = ConvStorage::f32_nchw) {
  kernels::check_conv_params(p, op);
  return handles_of(ex, op).conv_plans().get(p, ex.math, ex.deterministic, storage,
                                             ex.conv_autotune);
}

// A bfloat16 channels-last tensor of `nd` dims given in NCHW order (N, C, spatial...): C varies
// fastest, then the spatial dims, then N.
void set_channels_last_bf16_tensor(cudnnTensorDescriptor_t d, const int* dims, int nd) {
  int strides[5];
  strides[1] = 1;
  int64_t acc = dims[1];
  for (int i = nd - 1; i >= 2; --i) {
    strides[i] = static_cast<int>(acc);
    acc *= dims[i];
  }
  strides[0] = static_cast<int>(acc);
  NSAL_CHECK_AS(ShapeError, acc * dims[0] <= INT32_MAX,
                "cuDNN tensor descriptor: {} elements per sample x {} samples exceed 2^31 - 1", acc,
                dims[0]);
  NSAL_CUDNN_CHECK(cudnnSetTensorNdDescriptor(d, CUDNN_DATA_BFLOAT16, nd, dims, strides));
}

}  // namespace

ConvPlan& ConvPlanCache::get(const kernels::ConvParams& p, MathMode math, bool deterministic,
                             ConvStorage storage, bool autotune) {
  const bool bf16 = storage == ConvStorage::bf16_channels_last;
  if (bf16) math = MathMode::bf16;  // bf16 data runs on tensor cores with fp32 accumulation
  Key k{};
  int i = 0;
  k.at(i++) = p.spatial;
  k.at(i++) = p.n;
  k.at(i++) = p.c_in;
  k.at(i++) = p.c_out;
  k.at(i++) = p.groups;
  for (int d = 0; d < 3; ++d) {
    bool used = d < p.spatial;  // unused trailing dims do not split the cache
    k.at(i++) = used ? p.in[d] : 0;
    k.at(i++) = used ? p.kernel[d] : 0;
    k.at(i++) = used ? p.stride[d] : 0;
    k.at(i++) = used ? p.pad[d] : 0;
    k.at(i++) = used ? p.dilation[d] : 0;
  }
  k.at(i++) = static_cast<int>(math);
  k.at(i++) = deterministic ? 1 : 0;
  k.at(i++) = static_cast<int>(storage);
  k.at(i++) = autotune ? 1 : 0;
  auto it = plans_.find(k);
  if (it != plans_.end()) return *it->second;

  auto plan = std::make_unique<ConvPlan>();
  plan->params = p;
  plan->math = math;
  plan->deterministic = deterministic;
  plan->storage = storage;
  plan->autotune = autotune;
  const int nd = p.spatial + 2;
  int xd[5] = {p.n, p.c_in, p.in[0], p.in[1], p.in[2]};
  int yd[5] = {p.n, p.c_out, p.out(0), p.out(1), p.out(2)};
  int wd[5] = {p.c_out, p.c_in / p.groups, p.kernel[0], p.kernel[1], p.kernel[2]};
  int bd[5] = {1, p.c_out, 1, 1, 1};
  if (bf16) {
    set_channels_last_bf16_tensor(plan->x, xd, nd);
    set_channels_last_bf16_tensor(plan->y, yd, nd);
    set_channels_last_bf16_tensor(plan->bias, bd, nd);
    // NHWC filters: dims still given as (K, C, spatial...), stored as (K, spatial..., C).
    NSAL_CUDNN_CHECK(
        cudnnSetFilterNdDescriptor(plan->w, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_NHWC, nd, wd));
  } else {
    set_packed_tensor(plan->x, xd, nd);
    set_packed_tensor(plan->y, yd, nd);
    set_packed_tensor(plan->bias, bd, nd);
    NSAL_CUDNN_CHECK(
        cudnnSetFilterNdDescriptor(plan->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, nd, wd));
  }
  cudnnMathType_t m = requested_math(math);
  set_conv_desc(plan->fwd, p, m);
  set_conv_desc(plan->bwd_data, p, m);
  set_conv_desc(plan->bwd_filter, p, m);
  set_conv_desc(plan->fused_identity, p, m);
  int check[5] = {};
  NSAL_CUDNN_CHECK(cudnnGetConvolutionNdForwardOutputDim(plan->fwd, plan->x, plan->w, nd, check));
  for (int d = 0; d < nd; ++d)
    NSAL_CHECK_AS(ShapeError, check[d] == yd[d],
                  "conv: cuDNN's output dim {} is {}, expected {} ({})", d, check[d], yd[d],
                  p.str());
  NSAL_CUDNN_CHECK(
      cudnnSetActivationDescriptor(plan->relu, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0));
  NSAL_CUDNN_CHECK(cudnnSetActivationDescriptor(plan->identity, CUDNN_ACTIVATION_IDENTITY,
                                                CUDNN_PROPAGATE_NAN, 0.0));
  return *plans_.emplace(k, std::move(plan)).first->second;
}

}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

using cuda::check_device_ptr;
using cuda::check_device_ptr_or_null;

namespace {
// y = conv(x, w) + beta y on `plan` (float32 or bf16 storage; pointers already checked).
void run_forward(const GpuExec& ex, cuda::ConvPlan& plan, const void* x, const void* w, float beta,
                 void* y, const char* op) {
  GpuHandles& h = *ex.handles;
  cuda::choose_fwd(h, plan, &ex, x, w);
  const float one = 1.f;
  cuda::run_choice(
      ex, plan.fwd_algo, plan.fwd, cuda::fwd_ws_size(h, plan),
      [&](cudnnConvolutionFwdAlgo_t algo, void* ws, size_t ws_bytes) {
        return cudnnConvolutionForward(h.cudnn(), &one, plan.x, x, plan.w, w, plan.fwd, algo, ws,
                                       ws_bytes, &beta, plan.y, y);
      },
      op);
}

void conv_forward_blend(const GpuExec& ex, const ConvParams& p, const float* x, const float* w,
                        float beta, float* y, const char* op) {
  cuda::ConvPlan& plan = cuda::plan_for(ex, p, op);
  check_device_ptr(x, "x", op);
  check_device_ptr(w, "w", op);
  check_device_ptr(y, "y", op);
  run_forward(ex, plan, x, w, beta, y, op);
}
}  // namespace

void conv_forward(const GpuExec& ex, const ConvParams& p, const float* x, const float* w,
                  const float* bias, float* y) {
  const char* op = "conv_forward";
  check_device_ptr_or_null(bias, "bias", op);
  conv_forward_blend(ex, p, x, w, 0.f, y, op);
  if (bias) bias_add(ex, p.n, p.c_out, p.out_spatial(), bias, y);
}

void conv_backward_data(const GpuExec& ex, const ConvParams& p, const float* dy, const float* w,
                        float* dx) {
  const char* op = "conv_backward_data";
  cuda::ConvPlan& plan = cuda::plan_for(ex, p, op);
  check_device_ptr(dy, "dy", op);
  check_device_ptr(w, "w", op);
  check_device_ptr(dx, "dx", op);
  GpuHandles& h = *ex.handles;
  cuda::choose_bwd_data(h, plan, &ex, dy, w);
  const float one = 1.f, zero = 0.f;
  cuda::run_choice(
      ex, plan.bwd_data_algo, plan.bwd_data, cuda::bwd_data_ws_size(h, plan),
      [&](cudnnConvolutionBwdDataAlgo_t algo, void* ws, size_t ws_bytes) {
        return cudnnConvolutionBackwardData(h.cudnn(), &one, plan.w, w, plan.y, dy, plan.bwd_data,
                                            algo, ws, ws_bytes, &zero, plan.x, dx);
      },
      op);
}

void conv_backward_filter(const GpuExec& ex, const ConvParams& p, const float* x, const float* dy,
                          float* dw) {
  const char* op = "conv_backward_filter";
  cuda::ConvPlan& plan = cuda::plan_for(ex, p, op);
  check_device_ptr(x, "x", op);
  check_device_ptr(dy, "dy", op);
  check_device_ptr(dw, "dw", op);
  GpuHandles& h = *ex.handles;
  cuda::choose_bwd_filter(h, plan, &ex, x, dy);
  const float one = 1.f;  // beta = 1: accumulate into dw
  cuda::run_choice(
      ex, plan.bwd_filter_algo, plan.bwd_filter, cuda::bwd_filter_ws_size(h, plan),
      [&](cudnnConvolutionBwdFilterAlgo_t algo, void* ws, size_t ws_bytes) {
        return cudnnConvolutionBackwardFilter(h.cudnn(), &one, plan.x, x, plan.y, dy,
                                              plan.bwd_filter, algo, ws, ws_bytes, &one, plan.w,
                                              dw);
      },
      op);
}

void conv_backward_bias(const GpuExec& ex, const ConvParams& p, const float* dy, float* db) {
  check_conv_params(p, "conv_backward_bias");
  bias_grad(ex, p.n, p.c_out, p.out_spatial(), dy, db);
}

void conv_bias_act_forward_unfused(const GpuExec& ex, const ConvParams& p, const float* x,
                                   const float* w, const float* bias, const float* z, float alpha2,
                                   bool relu, float* y) {
  const char* op = "conv_bias_act_forward_unfused";
  check_conv_params(p, op);
  check_device_ptr(bias, "bias", op);
  check_device_ptr_or_null(z, "z", op);
  const int64_t ny = p.y_numel();
  if (z && z == y) {
    // In-place residual: y = alpha2 y first, then cuDNN adds the convolution (beta = 1).
    scale(ex, y, ny, alpha2);
    conv_forward_blend(ex, p, x, w, 1.f, y, op);
    bias_add(ex, p.n, p.c_out, p.out_spatial(), bias, y);
    if (relu) relu_forward(ex, ny, y, y);
    return;
  }
  conv_forward(ex, p, x, w, bias, y);
  if (z) axpy(ex, ny, alpha2, z, y);
  if (relu) relu_forward(ex, ny, y, y);
}

namespace {
// Runs cudnnConvolutionBiasActivationForward, y = act(conv(x, w) + alpha2 z + bias), on `plan`
// and returns true; returns false without writing y where cuDNN does not support the fusion
// for the plan (learnt on the first call and remembered, so later calls do not ask again).
bool try_fused(const GpuExec& ex, cuda::ConvPlan& plan, const void* x, const void* w,
               const void* bias, const void* z, float alpha2, bool relu, void* y, const char* op) {
  GpuHandles& h = *ex.handles;
  cuda::Tristate& ok = relu ? plan.fused_relu_ok : plan.fused_identity_ok;
  if (ok == cuda::Tristate::no) return false;
  const float one = 1.f;  // float scaling factors for float and bfloat16 data alike
  // Without a residual, alpha2 = 0 and z = y: cuDNN does not read a blend input scaled by 0.
  const float a2 = z ? alpha2 : 0.f;
  // One fused call, either with the plan's forward algorithm (its descriptor carries that
  // algorithm's math type) or with IMPLICIT_PRECOMP_GEMM on a descriptor of the requested math
  // type: the only algorithm cuDNN fuses the identity activation with, and the ReLU fusion's
  // second try when the forward algorithm (timed or guessed for the plain convolution) does not
  // fuse.
  auto call = [&](bool precomp) {
    if (!precomp) cuda::choose_fwd(h, plan, &ex, x, w);
    const cudnnConvolutionFwdAlgo_t algo =
        precomp ? CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM : plan.fwd_algo.algo;
    if (precomp && !plan.fused_precomp_ws_known) {
      const cudnnStatus_t q = cudnnGetConvolutionForwardWorkspaceSize(
          h.cudnn(), plan.x, plan.w, plan.fused_identity, plan.y, algo, &plan.fused_identity_ws);
      if (q != CUDNN_STATUS_SUCCESS) return q;
      plan.fused_precomp_ws_known = true;
    }
    const size_t ws_bytes = precomp ? plan.fused_identity_ws : plan.fwd_algo.ws;
    void* ws = cuda::workspace_of(ex, ws_bytes, op);
    return cudnnConvolutionBiasActivationForward(
        h.cudnn(), &one, plan.x, x, plan.w, w, precomp ? plan.fused_identity.get() : plan.fwd.get(),
        algo, ws, ws_bytes, &a2, plan.y, z ? z : y, plan.bias, bias,
        relu ? plan.relu.get() : plan.identity.get(), plan.y, y);
  };
  const bool precomp = !relu || plan.fused_relu_precomp;
  cudnnStatus_t s = call(precomp);
  if (ok == cuda::Tristate::unknown && !precomp && cuda::fusion_refused(s)) {
    s = call(true);
    if (s == CUDNN_STATUS_SUCCESS) plan.fused_relu_precomp = true;
  }
  if (ok == cuda::Tristate::unknown && cuda::fusion_refused(s)) {
    cuda::note_fusion_refused(plan, relu, s, op);
    ok = cuda::Tristate::no;
    return false;
  }
  NSAL_CUDNN_CHECK(s);
  ok = cuda::Tristate::yes;
  return true;
}
}  // namespace

bool conv_bias_act_forward(const GpuExec& ex, const ConvParams& p, const float* x, const float* w,
                           const float* bias, const float* z, float alpha2, bool relu, float* y) {
  const char* op = "conv_bias_act_forward";
  cuda::ConvPlan& plan = cuda::plan_for(ex, p, op);
  check_device_ptr(x, "x", op);
  check_device_ptr(w, "w", op);
  check_device_ptr(bias, "bias", op);
  check_device_ptr_or_null(z, "z", op);
  check_device_ptr(y, "y", op);
  if (try_fused(ex, plan, x, w, bias, z, alpha2, relu, y, op)) return true;
  conv_bias_act_forward_unfused(ex, p, x, w, bias, z, alpha2, relu, y);
  return false;
}

bool conv_bias_act_forward_bf16(const GpuExec& ex, const ConvParams& p, const uint16_t* x,
                                const uint16_t* w, const uint16_t* bias, const uint16_t* z,
                                bool relu, uint16_t* y) {
  const char* op = "conv_bias_act_forward_bf16";
  cuda::ConvPlan& plan = cuda::plan_for(ex, p, op, cuda::ConvStorage::bf16_channels_last);
  check_device_ptr(x, "x", op);
  check_device_ptr(w, "w", op);
  check_device_ptr(bias, "bias", op);
  check_device_ptr_or_null(z, "z", op);
  check_device_ptr(y, "y", op);
  NSAL_CHECK_AS(ShapeError, z != y, "{}: the residual must not be the output", op);
  if (try_fused(ex, plan, x, w, bias, z, 1.f, relu, y, op)) return true;
  // Unfused: the convolution rounded to bf16 into y, then bias, residual and activation.
  run_forward(ex, plan, x, w, 0.f, y, op);
  bias_residual_act_channels_last_bf16(ex, y, z, bias, relu, p.n, p.c_out, p.out_spatial());
  return false;
}

std::string conv_algorithms(const GpuExec& ex, const ConvParams& p) {
  cuda::ConvPlan& plan = cuda::plan_for(ex, p, "conv_algorithms");
  GpuHandles& h = *ex.handles;
  // An autotuned algorithm is chosen by its direction's first call, on that call's data: not
  // here.
  auto pending = [&](bool ready) { return plan.autotune && !ready; };
  if (!pending(plan.fwd_algo.ready)) cuda::choose_fwd(h, plan);
  if (!pending(plan.bwd_data_algo.ready)) cuda::choose_bwd_data(h, plan);
  if (!pending(plan.bwd_filter_algo.ready)) cuda::choose_bwd_filter(h, plan);
  auto describe = [](bool untimed, const char* dir, const char* name, cudnnMathType_t math,
                     size_t ws) {
    return untimed ? fmt::format("{} not yet timed", dir)
                   : fmt::format("{} {} ({}, {} B)", dir, name, cuda::math_name(math), ws);
  };
  return fmt::format(
      "{}; {}; {}",
      describe(pending(plan.fwd_algo.ready), "fwd", cuda::fwd_algo_name(plan.fwd_algo.algo),
               plan.fwd_algo.math, plan.fwd_algo.ws),
      describe(pending(plan.bwd_data_algo.ready), "bwd-data",
               cuda::bwd_data_algo_name(plan.bwd_data_algo.algo), plan.bwd_data_algo.math,
               plan.bwd_data_algo.ws),
      describe(pending(plan.bwd_filter_algo.ready), "bwd-filter",
               cuda::bwd_filter_algo_name(plan.bwd_filter_algo.algo), plan.bwd_filter_algo.math,
               plan.bwd_filter_algo.ws));
}

}  // namespace nsal::kernels::gpu
