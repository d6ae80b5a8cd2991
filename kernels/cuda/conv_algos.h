// Choosing cuDNN's convolution algorithms for a ConvPlan (kernels/cuda/conv_plan.h), one
// direction at a time, on its first use: the first of cuDNN's heuristic candidates that the math
// mode and determinism allow or, with autotuning (GpuExec::conv_autotune), the fastest of those
// cuDNN times on the call's own inputs; and running a call with the chosen algorithm, moving on
// to the next candidate while none has run (run_choice). The ops are in
// kernels/cuda/conv_cudnn.cpp.
#pragma once

#include <fmt/format.h>

#include <cstddef>

#include "kernels/cuda/check.h"
#include "kernels/cuda/conv_plan.h"
#include "kernels/cuda/gpu_handles.h"

namespace nsal::cuda {

// The math type a descriptor asks for under m: FMA for strict fp32 (cuDNN's default would run
// fp32 as TF32 on Ampere and newer), tensor ops otherwise.
cudnnMathType_t requested_math(MathMode m);
// Names for reports (conv_algorithms).
const char* math_name(cudnnMathType_t t);
const char* fwd_algo_name(cudnnConvolutionFwdAlgo_t a);
const char* bwd_data_algo_name(cudnnConvolutionBwdDataAlgo_t a);
const char* bwd_filter_algo_name(cudnnConvolutionBwdFilterAlgo_t a);

// Whether cuDNN refused an algorithm for this configuration (cuDNN 9 splits "not supported"
// into finer codes of one category).
bool refused(cudnnStatus_t s);

// The algorithm of each direction of `plan`, chosen on first use (a no-op once chosen): timed on
// the call's inputs when the plan asks for autotuning and they are given, else from cuDNN's
// heuristics. Forward: x and w; backward data: dy and w; backward filter: x and dy.
void choose_fwd(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex = nullptr,
                const void* x = nullptr, const void* w = nullptr);
void choose_bwd_data(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex = nullptr,
                     const void* dy = nullptr, const void* w = nullptr);
void choose_bwd_filter(kernels::GpuHandles& h, ConvPlan& plan, const kernels::GpuExec* ex = nullptr,
                       const void* x = nullptr, const void* dy = nullptr);

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
inline auto fwd_ws_size(kernels::GpuHandles& h, ConvPlan& plan) {
  return [&h, &plan](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h.cudnn(), plan.x, plan.w, plan.fwd, plan.y,
                                                   algo, bytes);
  };
}
inline auto bwd_data_ws_size(kernels::GpuHandles& h, ConvPlan& plan) {
  return [&h, &plan](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h.cudnn(), plan.w, plan.y, plan.bwd_data,
                                                        plan.x, algo, bytes);
  };
}
inline auto bwd_filter_ws_size(kernels::GpuHandles& h, ConvPlan& plan) {
  return [&h, &plan](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h.cudnn(), plan.x, plan.y,
                                                          plan.bwd_filter, plan.w, algo, bytes);
  };
}

}  // namespace nsal::cuda
