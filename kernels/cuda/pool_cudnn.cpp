// Pooling: average pooling on cuDNN; max pooling on own kernels (kernels/cuda/maxpool.cu),
// because PyTorch routes the gradient of a window with tied maxima to ONE element (the first
// maximum, NaN winning) and the CPU backend does the same, while cuDNN's max-pool backward does
// not promise which tied element receives it.
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/internal.h"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::kernels::gpu {

namespace {

struct PoolDescs {
  cudnnPoolingDescriptor_t pool;
  cudnnTensorDescriptor_t x, y;
};

PoolDescs avg_pool_descs(GpuHandles& h, const PoolParams& p) {
  cudnnPoolingMode_t mode = p.mode == PoolMode::avg_include_pad
                                ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  const int nd = p.spatial + 2;
  int xd[5] = {p.n, p.c, p.in[0], p.in[1], p.in[2]};
  int yd[5] = {p.n, p.c, p.out(0), p.out(1), p.out(2)};
  PoolDescs d{h.descs().pooling(mode, p.spatial, p.kernel, p.pad, p.stride),
              h.descs().tensor(xd, nd), h.descs().tensor(yd, nd)};
  int check[5] = {};
  NSAL_CUDNN_CHECK(cudnnGetPoolingNdForwardOutputDim(d.pool, d.x, nd, check));
  for (int i = 0; i < nd; ++i)
    NSAL_CHECK_AS(ShapeError, check[i] == yd[i],
                  "pool: cuDNN's output dim {} is {}, expected {} ({})", i, check[i], yd[i],
                  p.str());
  return d;
}

}  // namespace

void pool_forward(const GpuExec& ex, const PoolParams& p, const float* x, float* y) {
  const char* op = "pool_forward";
  check_pool_params(p, op);
  GpuHandles& h = cuda::handles_of(ex, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(y, "y", op);
  if (p.mode == PoolMode::max) {
    cuda::maxpool_forward_launch(h.stream(), p, x, y);
    return;
  }
  PoolDescs d = avg_pool_descs(h, p);
  const float one = 1.f, zero = 0.f;
  NSAL_CUDNN_CHECK(cudnnPoolingForward(h.cudnn(), d.pool, &one, d.x, x, &zero, d.y, y));
}

void pool_backward(const GpuExec& ex, const PoolParams& p, const float* x, const float* y,
                   const float* dy, float* dx) {
  const char* op = "pool_backward";
  check_pool_params(p, op);
  GpuHandles& h = cuda::handles_of(ex, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(y, "y", op);
  cuda::check_device_ptr(dy, "dy", op);
  cuda::check_device_ptr(dx, "dx", op);
  if (p.mode == PoolMode::max) {
    cuda::maxpool_backward_launch(h.stream(), p, x, dy, dx);
    return;
  }
  PoolDescs d = avg_pool_descs(h, p);
  const float one = 1.f, zero = 0.f;
  NSAL_CUDNN_CHECK(
      cudnnPoolingBackward(h.cudnn(), d.pool, &one, d.y, y, d.y, dy, d.x, x, &zero, d.x, dx));
}

}  // namespace nsal::kernels::gpu
