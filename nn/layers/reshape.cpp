#include "nn/layers/reshape.h"

#include "kernels/cuda_ops.h"

namespace nsal {

// Same elements, new shape: one contiguous copy. On a CUDA device (any dtype) the copy is queued
// on the context's stream, so it stays ordered with the other ops and needs no host wait.
static void copy_as(Context& ctx, const Tensor& src, Tensor& dst) {
  if (src.device().is_cuda()) {
    kernels::gpu::copy(ctx.gpu(), dst.raw(), src.raw(), src.nbytes());
    return;
  }
  dst.copy_from(src.reshaped(dst.shape()));
}

Flatten::Flatten(std::string name, int start_dim, int end_dim)
    : Layer("flatten", std::move(name)), start_(start_dim), end_(end_dim) {}

Shape Flatten::output_shape(const Shape& in) const {
  const int n = static_cast<int>(in.size());
  const int s = start_ < 0 ? start_ + n : start_, e = end_ < 0 ? end_ + n : end_;
  if (s < 0 || e >= n || s > e)
    fail("cannot flatten dimensions " + std::to_string(start_) + " to " + std::to_string(end_) +
         " of input " + shape_str(in));
  Shape out(in.begin(), in.begin() + s);
  int64_t merged = 1;
  for (int i = s; i <= e; ++i)
    merged *= in[i];
  out.push_back(merged);
  out.insert(out.end(), in.begin() + e + 1, in.end());
  return out;
}

void Flatten::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  copy_as(ctx, x, y);
}

void Flatten::backward_impl(Context& ctx, const Tensor&, const Tensor&, const Tensor& dy,
                            Tensor* dx) {
  if (dx) copy_as(ctx, dy, *dx);
}

Reshape::Reshape(std::string name, Shape per_sample)
    : Layer("reshape", std::move(name)), per_sample_(std::move(per_sample)) {
  int unknown = 0;
  for (int64_t d : per_sample_) {
    if (d == -1)
      ++unknown;
    else if (d < 0)
      fail("target shape " + shape_str(per_sample_) + " has a negative size");
  }
  if (unknown > 1) fail("target shape " + shape_str(per_sample_) + " has more than one -1");
}

Shape Reshape::output_shape(const Shape& in) const {
  if (in.empty()) fail("expected a batched input (N, ...), got " + shape_str(in));
  const int64_t per =
      in[0] > 0 ? shape_numel(in) / in[0] : shape_numel(Shape(in.begin() + 1, in.end()));
  Shape out{in[0]};
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < per_sample_.size(); ++i) {
    if (per_sample_[i] == -1)
      infer = static_cast<int>(i) + 1;
    else
      known *= per_sample_[i];
    out.push_back(per_sample_[i]);
  }
  if (infer > 0) {
    if (known == 0 || per % known != 0)
      fail("cannot reshape input " + shape_str(in) + " to (N, " + shape_str(per_sample_).substr(1));
    out[infer] = per / known;
  }
  if (shape_numel(out) != shape_numel(in))
    fail("cannot reshape input " + shape_str(in) + " to (N, " + shape_str(per_sample_).substr(1));
  return out;
}

void Reshape::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  copy_as(ctx, x, y);
}

void Reshape::backward_impl(Context& ctx, const Tensor&, const Tensor&, const Tensor& dy,
                            Tensor* dx) {
  if (dx) copy_as(ctx, dy, *dx);
}

}  // namespace nsal
