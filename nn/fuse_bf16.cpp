// The bf16 channels-last inference path of nn/fuse.h: ConvBnUnit::forward_bf16 and the layout
// and pooling steps around it, on the GPU (cuDNN NHWC on tensor cores, own kernels) and on the
// CPU (the same roundings around float32 ops: kernels/cpu/channels_last_cpu.h).
#include <omp.h>

#include "kernels/cpu/channels_last_cpu.h"
#include "kernels/cpu/conv_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/fuse.h"
#include "nn/memory_plan.h"

namespace nsal {

namespace {
int64_t spatial_numel(const Shape& s, size_t first, size_t last) {
  int64_t n = 1;
  for (size_t i = first; i < last; ++i)
    n *= s[i];
  return n;
}
}  // namespace

Shape to_channels_last_shape(const Shape& nchw) {
  NSAL_CHECK_AS(ShapeError, nchw.size() >= 3, "channels-last: expected (N, C, S...), got {}",
                shape_str(nchw));
  Shape out{nchw[0]};
  out.insert(out.end(), nchw.begin() + 2, nchw.end());
  out.push_back(nchw[1]);
  return out;
}

Shape from_channels_last_shape(const Shape& nhwc) {
  NSAL_CHECK_AS(ShapeError, nhwc.size() >= 3, "channels-last: expected (N, S..., C), got {}",
                shape_str(nhwc));
  Shape out{nhwc[0], nhwc.back()};
  out.insert(out.end(), nhwc.begin() + 1, nhwc.end() - 1);
  return out;
}

void to_channels_last_bf16(Context& ctx, const Tensor& x, Tensor& y) {
  NSAL_CHECK_AS(ShapeError, x.dtype() == DType::f32 && x.is_contiguous() && x.ndim() >= 3,
                "bf16 path: expected a contiguous float32 input (N, C, S...), got {}",
                x.describe());
  NSAL_CHECK(x.device() == ctx.device(), "bf16 path: input {} on another device than {}",
             x.describe(), ctx.device().str());
  plan_output(ctx, {&x}, y, to_channels_last_shape(x.shape()), DType::bf16, x.device(),
              "bf16 channels-last input");
  if (x.numel() == 0) return;
  const int64_t n = x.dim(0), c = x.dim(1), s = spatial_numel(x.shape(), 2, x.shape().size());
  if (x.device().is_cuda())
    kernels::gpu::to_channels_last_bf16(ctx.gpu(), x.data<float>(), n, c, s, y.data<uint16_t>());
  else
    kernels::cpu::to_channels_last_bf16(x.data<float>(), n, c, s, y.data<uint16_t>());
}

void global_avg_pool_channels_last_bf16(Context& ctx, const Tensor& x, Tensor& y) {
  NSAL_CHECK_AS(ShapeError, x.dtype() == DType::bf16 && x.is_contiguous() && x.ndim() >= 3,
                "bf16 path: expected a contiguous bfloat16 tensor (N, S..., C), got {}",
                x.describe());
  const int64_t n = x.dim(0), c = x.shape().back(),
                s = spatial_numel(x.shape(), 1, x.shape().size() - 1);
  plan_output(ctx, {&x}, y, {n, c}, DType::f32, x.device(), "bf16 path pooled features");
  if (x.numel() == 0) return;
  if (x.device().is_cuda())
    kernels::gpu::global_avg_pool_channels_last_bf16(ctx.gpu(), x.data<uint16_t>(), n, s, c,
                                                     y.data<float>());
  else
    kernels::cpu::global_avg_pool_channels_last_bf16(x.data<uint16_t>(), n, s, c, y.data<float>());
}

const Tensor& ConvBnUnit::forward_bf16(Context& ctx, const Tensor& x, const Tensor* residual,
                                       bool relu, FoldScratch& scratch) {
  check_eval(ctx, x, DType::bf16);
  const Shape xs = from_channels_last_shape(x.shape());
  const Shape ys = conv_->output_shape(xs);  // throws naming the convolution
  bn_->output_shape(ys);
  const Shape ys_cl = to_channels_last_shape(ys);
  if (residual && (residual->shape() != ys_cl || residual->dtype() != DType::bf16 ||
                   residual->device() != x.device() || !residual->is_contiguous()))
    fail("residual " + residual->describe() + " does not match the bf16 output " +
         shape_str(ys_cl));
  plan_output(ctx, {&x, residual}, y16_, ys_cl, DType::bf16, x.device(), "bf16 fused conv output");
  fused_kernel_ = false;
  if (x.numel() == 0) return y16_;

  fold(ctx, scratch);
  const int64_t C = channels(), per_channel = weight_numel() / C;
  const int64_t k = spatial_numel(conv_->weight_shape(), 2, conv_->weight_shape().size());
  const int64_t in_per_group = per_channel / k;
  scratch.reserve_bf16(weight_numel(), C, x.device());
  uint16_t* w16 = scratch.w16.data<uint16_t>();
  uint16_t* b16 = scratch.b16.data<uint16_t>();
  const uint16_t* r16 = residual ? residual->data<uint16_t>() : nullptr;
  if (x.device().is_cuda()) {
    const kernels::GpuExec ex = ctx.gpu();
    kernels::gpu::to_channels_last_bf16(ex, scratch.w.data<float>(), C, in_per_group, k, w16);
    kernels::gpu::to_channels_last_bf16(ex, scratch.b.data<float>(), 1, C, 1, b16);
    fused_kernel_ = kernels::gpu::conv_bias_act_forward_bf16(
        ex, conv_->conv_params(xs), x.data<uint16_t>(), w16, b16, r16, relu, y16_.data<uint16_t>());
    return y16_;
  }
  // CPU: x and the folded weights as the bf16 values they are, a float32 convolution, then
  // act(conv + residual + bias) rounded once into the channels-last output.
  float* wf = scratch.w.data<float>();
  kernels::cpu::round_to_bf16(wf, weight_numel());
  kernels::cpu::to_channels_last_bf16(scratch.b.data<float>(), 1, C, 1, b16);
  const int64_t n = xs[0], c_in = xs[1], s_in = spatial_numel(xs, 2, xs.size());
  x32_.resize(xs, DType::f32, x.device(), "bf16 path input as float32");
  kernels::cpu::from_channels_last_bf16(x.data<uint16_t>(), n, c_in, s_in, x32_.data<float>());
  conv32_.resize(ys, DType::f32, x.device(), "bf16 path convolution");
  const kernels::ConvShape s = conv_->conv_shape(xs);
  const size_t bytes = kernels::cpu::conv_workspace_bytes(s, sizeof(float), omp_get_max_threads());
  void* ws = bytes ? ctx.workspace(bytes) : nullptr;
  kernels::cpu::conv_forward<float>(s, x32_.data<float>(), wf, nullptr, conv32_.data<float>(), ws,
                                    bytes);
  kernels::cpu::conv_epilogue_channels_last_bf16(conv32_.data<float>(), r16, b16, relu, n, C,
                                                 spatial_numel(ys, 2, ys.size()),
                                                 y16_.data<uint16_t>());
  return y16_;
}

}  // namespace nsal
