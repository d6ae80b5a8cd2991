// 2D/3D convolution on cuDNN's legacy (v7-style) API: forward, backward data, backward filter,
// bias gradient, and the fused conv + bias + activation (+ residual) inference path.
#include <fmt/format.h>

#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/conv_algos.h"
#include "kernels/cuda/conv_plan.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"
#include "kernels/memory.h"

namespace nsal::cuda {

namespace {

void set_conv_desc(cudnnConvolutionDescriptor_t d, const kernels::ConvParams& p,
                   cudnnMathType_t math) {
  NSAL_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(d, p.spatial, p.pad, p.stride, p.dilation,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  NSAL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d, p.groups));
  NSAL_CUDNN_CHECK(cudnnSetConvolutionMathType(d, math));
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
  NSAL_CHECK_AS(BatchTooLargeError, acc * dims[0] <= kernels::descriptor_element_limit(),
                "cuDNN tensor descriptor: {} elements per sample x {} samples exceed {}", acc,
                dims[0], kernels::descriptor_element_limit());
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
