#include "nn/layers/merge.h"

#include "kernels/cpu/elementwise_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/layers/float_dispatch.h"
#include "nn/memory_plan.h"

namespace nsal {

static void check_device(const std::string& who, Context& ctx, const Tensor& t, const char* what) {
  if (t.device() != ctx.device())
    throw ShapeError(who + ": " + what + " is on " + t.device().str() +
                     " but the context runs on " + ctx.device().str());
  if (!t.is_contiguous())
    throw ShapeError(who + ": " + what + " " + t.describe() + " is not contiguous");
}

const Tensor& ResidualAdd::forward(Context& ctx, const Tensor& a, const Tensor& b) {
  const std::string who = layer_label("residual_add", name_);
  check_device(who, ctx, a, "first input");
  check_device(who, ctx, b, "second input");
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    throw ShapeError(who + ": inputs differ: " + a.describe() + " and " + b.describe());
  plan_output(ctx, {&a, &b}, out_, a.shape(), a.dtype(), a.device(), "residual sum");
  if (on_gpu(a, [&] { return who; })) {
    kernels::gpu::add(ctx.gpu(), a.numel(), a.data<float>(), b.data<float>(), out_.data<float>());
    return out_;
  }
  dispatch_cpu_float(who, a, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::add(a.data<T>(), b.data<T>(), out_.data<T>(), a.numel());
  });
  return out_;
}

ResidualAdd::Grads ResidualAdd::backward(Context& ctx, const Tensor& dy) const {
  const std::string who = layer_label("residual_add", name_);
  check_device(who, ctx, dy, "output gradient");
  if (dy.shape() != out_.shape() || dy.dtype() != out_.dtype())
    throw ShapeError(who + ": output gradient is " + dy.describe() + " but the output was " +
                     out_.describe());
  return {dy, dy};
}

const Tensor& Concat::forward(Context& ctx, const std::vector<const Tensor*>& inputs) {
  const std::string who = layer_label("concat", name_);
  if (inputs.empty()) throw ShapeError(who + ": no inputs");
  const Tensor& first = *inputs[0];
  if (first.ndim() < 2)
    throw ShapeError(who + ": expected inputs (N, C, ...), got " + first.describe());
  int64_t channels = 0;
  in_shapes_.clear();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = *inputs[i];
    check_device(who, ctx, t, "input");
    Shape a = t.shape(), b = first.shape();
    if (a.size() >= 2 && a.size() == b.size()) a[1] = b[1] = 0;
    if (a != b || t.dtype() != first.dtype())
      throw ShapeError(who + ": input " + std::to_string(i) + " is " + t.describe() +
                       " but input 0 is " + first.describe() +
                       " (all dimensions but 1, and the dtype, must agree)");
    channels += t.dim(1);
    in_shapes_.push_back(t.shape());
  }
  Shape out_shape = first.shape();
  out_shape[1] = channels;
  plan_output(ctx, inputs.data(), inputs.size(), out_, out_shape, first.dtype(), first.device(),
              "concat output");
  const int64_t N = first.dim(0);
  const int64_t S = shape_numel(Shape(first.shape().begin() + 2, first.shape().end()));
  if (on_gpu(first, [&] { return who; })) {
    if (out_.numel() == 0) return out_;
    gpu_ptrs_.resize(inputs.size());
    gpu_channels_.resize(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      gpu_ptrs_[i] = inputs[i]->data<float>();
      gpu_channels_[i] = inputs[i]->dim(1);
    }
    kernels::gpu::concat_channels(ctx.gpu(), N, S, static_cast<int>(inputs.size()),
                                  gpu_ptrs_.data(), gpu_channels_.data(), out_.data<float>());
    return out_;
  }
  dispatch_cpu_float(who, first, [&](auto tag) {
    using T = decltype(tag);
    int64_t offset = 0;
    for (const Tensor* t : inputs) {
      kernels::cpu::copy_channels_in(t->data<T>(), N, t->dim(1), S, out_.data<T>(), channels,
                                     offset);
      offset += t->dim(1);
    }
  });
  return out_;
}

const std::vector<Tensor>& Concat::backward(Context& ctx, const Tensor& dy) {
  const std::string who = layer_label("concat", name_);
  check_device(who, ctx, dy, "output gradient");
  if (in_shapes_.empty()) throw ShapeError(who + ": backward() without a forward()");
  if (dy.shape() != out_.shape() || dy.dtype() != out_.dtype())
    throw ShapeError(who + ": output gradient is " + dy.describe() + " but the output was " +
                     out_.describe());
  grads_.resize(in_shapes_.size());
  const int64_t N = dy.dim(0), channels = dy.dim(1);
  const int64_t S = shape_numel(Shape(dy.shape().begin() + 2, dy.shape().end()));
  if (on_gpu(dy, [&] { return who; })) {
    gpu_dst_.resize(in_shapes_.size());
    gpu_channels_.resize(in_shapes_.size());
    for (size_t i = 0; i < in_shapes_.size(); ++i) {
      grads_[i].resize(in_shapes_[i], dy.dtype(), dy.device(), "concat input gradient");
      gpu_dst_[i] = grads_[i].data<float>();
      gpu_channels_[i] = in_shapes_[i][1];
    }
    if (dy.numel() == 0) return grads_;
    kernels::gpu::split_channels(ctx.gpu(), N, S, static_cast<int>(in_shapes_.size()),
                                 dy.data<float>(), gpu_dst_.data(), gpu_channels_.data());
    return grads_;
  }
  dispatch_cpu_float(who, dy, [&](auto tag) {
    using T = decltype(tag);
    int64_t offset = 0;
    for (size_t i = 0; i < in_shapes_.size(); ++i) {
      grads_[i].resize(in_shapes_[i], dy.dtype(), dy.device(), "concat input gradient");
      kernels::cpu::copy_channels_out(dy.data<T>(), N, channels, S, grads_[i].data<T>(),
                                      in_shapes_[i][1], offset);
      offset += in_shapes_[i][1];
    }
  });
  return grads_;
}

void accumulate_into(Context& ctx, Tensor& dst, const Tensor& src, const std::string& who) {
  check_device(who, ctx, dst, "gradient");
  check_device(who, ctx, src, "added gradient");
  if (dst.shape() != src.shape() || dst.dtype() != src.dtype())
    throw ShapeError(who + ": cannot add " + src.describe() + " into " + dst.describe());
  if (on_gpu(dst, [&] { return who; })) {
    kernels::gpu::axpy(ctx.gpu(), dst.numel(), 1.f, src.data<float>(), dst.data<float>());
    return;
  }
  dispatch_cpu_float(who, dst, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::accumulate(dst.data<T>(), src.data<T>(), dst.numel());
  });
}

}  // namespace nsal
