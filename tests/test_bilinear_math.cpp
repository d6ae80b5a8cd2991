// Bilinear index math (kernels/bilinear.h), shared by the CPU and the CUDA kernels: PyTorch's
// align_corners=False positions, and a gather backward equal to the scatter it replaces.
#include <gtest/gtest.h>

#include <random>

#include "kernels/bilinear.h"
#include "tests/gpu_reference.h"

namespace nsal {
namespace {

TEST(BilinearMath, MatchesPyTorchOnAKnownCase) {
  // torch.nn.functional.interpolate(torch.tensor([[[[1., 2.]]]]), size=(1, 4), mode="bilinear",
  // align_corners=False) == [1.00, 1.25, 1.75, 2.00]
  const float x[2] = {1.f, 2.f};
  const float want[4] = {1.f, 1.25f, 1.75f, 2.f};
  for (int ox = 0; ox < 4; ++ox)
    EXPECT_FLOAT_EQ(kernels::bilinear_forward_at(0, ox, 1, 2, 1, 4, x), want[ox]);
}

TEST(BilinearMath, GatherRangeCoversEveryOutputThatUsesAnInput) {
  for (int in = 1; in <= 12; ++in)
    for (int out = 1; out <= 40; ++out) {
      const float s = kernels::bilinear_scale(in, out);
      for (int o = 0; o < out; ++o) {
        kernels::BilinearTap t = kernels::bilinear_tap(o, in, s);
        ASSERT_GE(t.i0, 0);
        ASSERT_LT(t.i1, in);
        for (int i : {t.i0, t.i1}) {
          int lo, hi;
          kernels::bilinear_gather_range(i, in, out, s, lo, hi);
          ASSERT_TRUE(lo <= o && o <= hi) << "in " << in << " out " << out << " o " << o << " i "
                                          << i << " range [" << lo << ", " << hi << "]";
        }
      }
    }
}

TEST(BilinearMath, ForwardAndGatherBackwardMatchTheReference) {
  struct Case {
    int h, w, oh, ow;
  };
  for (Case c : {Case{4, 5, 8, 10}, Case{4, 5, 7, 3}, Case{1, 1, 3, 3}, Case{6, 6, 6, 6},
                 Case{3, 7, 16, 5}, Case{8, 8, 32, 32}}) {
    std::mt19937_64 rng(c.h * 100 + c.ow);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> x(c.h * c.w), dy(c.oh * c.ow);
    for (auto& e : x)
      e = u(rng);
    for (auto& e : dy)
      e = u(rng);
    ref::Vec want_y = ref::bilinear_forward(ref::Vec(x.begin(), x.end()), 1, c.h, c.w, c.oh, c.ow);
    for (int oy = 0; oy < c.oh; ++oy)
      for (int ox = 0; ox < c.ow; ++ox)
        ASSERT_NEAR(kernels::bilinear_forward_at(oy, ox, c.h, c.w, c.oh, c.ow, x.data()),
                    want_y[oy * c.ow + ox], 1e-6);
    ref::Vec want_dx =
        ref::bilinear_backward(ref::Vec(dy.begin(), dy.end()), 1, c.h, c.w, c.oh, c.ow);
    for (int iy = 0; iy < c.h; ++iy)
      for (int ix = 0; ix < c.w; ++ix)
        ASSERT_NEAR(kernels::bilinear_backward_gather(iy, ix, c.h, c.w, c.oh, c.ow, dy.data()),
                    want_dx[iy * c.w + ix], 1e-5)
            << c.h << "x" << c.w << " -> " << c.oh << "x" << c.ow << " at " << iy << "," << ix;
  }
}

}  // namespace
}  // namespace nsal
