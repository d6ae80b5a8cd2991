// Max pooling 2D/3D with PyTorch's tie and NaN rules (kernels/maxpool.h). Backward gathers per
// input cell (recomputing each covering window's choice), so no indices are stored and there
// are no atomics.
#include "kernels/cuda/internal.h"
#include "kernels/cuda/launch.cuh"

namespace nsal::cuda {
namespace {

__global__ void maxpool_forward_kernel(int64_t total, kernels::MaxPoolGeom g, const float* x,
                                       float* y) {
  const int64_t out_vol = int64_t{g.od} * g.oh * g.ow;
  const int64_t in_vol = int64_t{g.d} * g.h * g.w;
  NSAL_GRID_STRIDE(i, total) {
    const int64_t v = i / out_vol;
    int64_t r = i - v * out_vol;
    const int ox = static_cast<int>(r % g.ow);
    r /= g.ow;
    const int oy = static_cast<int>(r % g.oh);
    const int oz = static_cast<int>(r / g.oh);
    float m;
    kernels::maxpool_argmax(x + v * in_vol, g, oz, oy, ox, &m);
    y[i] = m;
  }
}

__global__ void maxpool_backward_kernel(int64_t total, kernels::MaxPoolGeom g, const float* x,
                                        const float* dy, float* dx) {
  const int64_t out_vol = int64_t{g.od} * g.oh * g.ow;
  const int64_t in_vol = int64_t{g.d} * g.h * g.w;
  NSAL_GRID_STRIDE(i, total) {
    const int64_t v = i / in_vol;
    int64_t r = i - v * in_vol;
    const int ix = static_cast<int>(r % g.w);
    r /= g.w;
    const int iy = static_cast<int>(r % g.h);
    const int iz = static_cast<int>(r / g.h);
    dx[i] = kernels::maxpool_backward_gather(x + v * in_vol, dy + v * out_vol, g, iz, iy, ix);
  }
}

}  // namespace

kernels::MaxPoolGeom pool_geom(const kernels::PoolParams& p) {
  kernels::MaxPoolGeom g{};
  const int o = p.spatial == 3 ? 0 : 1;  // 2D: a leading depth axis of extent 1
  int in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
  for (int i = 0; i < p.spatial; ++i) {
    in[o + i] = p.in[i];
    out[o + i] = p.out(i);
    k[o + i] = p.kernel[i];
    s[o + i] = p.stride[i];
    pad[o + i] = p.pad[i];
  }
  g = kernels::MaxPoolGeom{in[0], in[1], in[2], out[0], out[1], out[2], k[0],  k[1],
                           k[2],  s[0],  s[1],  s[2],   pad[0], pad[1], pad[2]};
  return g;
}

void maxpool_forward_launch(cudaStream_t s, const kernels::PoolParams& p, const float* x,
                            float* y) {
  const int64_t total = p.y_numel();
  maxpool_forward_kernel<<<grid_for(total), kBlock, 0, s>>>(total, pool_geom(p), x, y);
  NSAL_CUDA_CHECK_LAUNCH();
}

void maxpool_backward_launch(cudaStream_t s, const kernels::PoolParams& p, const float* x,
                             const float* dy, float* dx) {
  const int64_t total = p.x_numel();
  maxpool_backward_kernel<<<grid_for(total), kBlock, 0, s>>>(total, pool_geom(p), x, dy, dx);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::cuda
