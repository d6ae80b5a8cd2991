// Bilinear upsampling (align_corners=False) on the GPU against the float64 reference, and the
// gather backward's determinism. Float weights and sums: 1e-6 absolute + 1e-5 relative.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/cuda_test_util.h"
#include "tests/gpu_reference.h"

namespace nsal {
namespace {

// A GPU test of this file: skips with the reason when no device answers.
class CudaUpsample : public testing::CudaTest {};

using testing::expect_close;
using testing::f32;
using testing::random_floats;
using testing::to_double;
using testing::to_gpu;
using testing::to_host;

struct Sizes {
  int h, w, oh, ow;
};

TEST_F(CudaUpsample, BilinearUpsampleMatchesReference) {
  const int64_t n = 2, c = 3;
  for (Sizes s : {Sizes{4, 5, 8, 10}, Sizes{4, 5, 7, 3}, Sizes{1, 1, 3, 3}, Sizes{8, 8, 32, 32},
                  Sizes{5, 3, 17, 11}}) {
    SCOPED_TRACE(std::to_string(s.h) + "x" + std::to_string(s.w) + " -> " + std::to_string(s.oh) +
                 "x" + std::to_string(s.ow));
    std::vector<float> x = random_floats(n * c * s.h * s.w, 1),
                       dy = random_floats(n * c * s.oh * s.ow, 2);
    Tensor xt = to_gpu(x), dyt = to_gpu(dy), y = testing::gpu_nans(n * c * s.oh * s.ow),
           dx = testing::gpu_nans(n * c * s.h * s.w);
    kernels::gpu::upsample_bilinear2d_forward(ex(), n, c, s.h, s.w, s.oh, s.ow, f32(xt), f32(y));
    kernels::gpu::upsample_bilinear2d_backward(ex(), n, c, s.h, s.w, s.oh, s.ow, f32(dyt), f32(dx));
    sync();
    expect_close(to_host(y), ref::bilinear_forward(to_double(x), n * c, s.h, s.w, s.oh, s.ow), 1e-6,
                 1e-5, "y");
    expect_close(to_host(dx), ref::bilinear_backward(to_double(dy), n * c, s.h, s.w, s.oh, s.ow),
                 1e-6, 1e-5, "dx");
    // Gather formulation: the same bits again.
    std::vector<float> first = to_host(dx);
    kernels::gpu::upsample_bilinear2d_backward(ex(), n, c, s.h, s.w, s.oh, s.ow, f32(dyt), f32(dx));
    sync();
    EXPECT_EQ(0, std::memcmp(first.data(), to_host(dx).data(), first.size() * 4));
  }
}

}  // namespace
}  // namespace nsal
