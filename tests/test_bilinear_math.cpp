// Bilinear index math (kernels/bilinear.h), shared by the CPU and the CUDA kernels: PyTorch's
// align_corners=False positions, and a gather backward equal to the scatter it replaces.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/bilinear.h"
#include "kernels/cpu/upsample_cpu.h"
#include "kernels/upsample.h"
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

// The same with a step that does not follow from the sizes (the GPU op takes any output size
// with a scale factor): outputs past the scaled extent clamp to the last cell, and its range
// reaches them (h = 1, oh = 4, step 3.33: output 3 reads cell 0).
TEST(BilinearMath, GatherRangeCoversClampedOutputsForAnyStep) {
  for (int in = 1; in <= 6; ++in)
    for (int out = 1; out <= 24; ++out)
      for (float s : {0.3f, 0.7f, 1.0f, 1.9f, 3.33f}) {
        for (int o = 0; o < out; ++o) {
          kernels::BilinearTap t = kernels::bilinear_tap(o, in, s);
          for (int i : {t.i0, t.i1}) {
            int lo, hi;
            kernels::bilinear_gather_range(i, in, out, s, lo, hi);
            ASSERT_TRUE(lo <= o && o <= hi)
                << "in " << in << " out " << out << " step " << s << " o " << o << " i " << i;
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

// With a scale factor the sampling step is 1 / scale, not in / out (PyTorch without
// recompute_scale_factor). The GPU kernels take that step through the *_steps functions; here they
// are checked against the CPU layer's loops (kernels/upsample.h) for factors whose step differs
// from in / out (5 * 1.5 -> 7: 1 / 1.5 != 5 / 7), and for a gather range that still covers every
// output using an input. Forward: the same float operations in the same order, so within one
// rounding (1e-6); backward: a gather against the CPU's scatter, sums in another order (1e-5).
TEST(BilinearMath, ScaleFactorStepsMatchTheCpuLoops) {
  struct Case {
    int h, w;
    double sh, sw;
  };
  for (Case c : {Case{5, 6, 1.5, 1.5}, Case{4, 7, 2.5, 0.75}, Case{9, 3, 1.3, 3.0}}) {
    SCOPED_TRACE(std::to_string(c.h) + "x" + std::to_string(c.w) + " scale " +
                 std::to_string(c.sh) + ", " + std::to_string(c.sw));
    const int oh = static_cast<int>(std::floor(c.h * c.sh));
    const int ow = static_cast<int>(std::floor(c.w * c.sw));
    const float step_h = kernels::bilinear_step<float>(c.h, oh, c.sh);
    const float step_w = kernels::bilinear_step<float>(c.w, ow, c.sw);
    std::mt19937_64 rng(c.h * 10 + c.w);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> x(c.h * c.w), dy(oh * ow), y(oh * ow), dx(c.h * c.w);
    for (auto& e : x)
      e = u(rng);
    for (auto& e : dy)
      e = u(rng);
    kernels::cpu::upsample_bilinear2d_forward(x.data(), 1, c.h, c.w, oh, ow, c.sh, c.sw, y.data());
    kernels::cpu::upsample_bilinear2d_backward(dy.data(), 1, c.h, c.w, oh, ow, c.sh, c.sw,
                                               dx.data());
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        ASSERT_NEAR(kernels::bilinear_forward_at_steps(oy, ox, c.h, c.w, step_h, step_w, x.data()),
                    y[oy * ow + ox], 1e-6);
    for (int iy = 0; iy < c.h; ++iy)
      for (int ix = 0; ix < c.w; ++ix)
        ASSERT_NEAR(kernels::bilinear_backward_gather_steps(iy, ix, c.h, c.w, oh, ow, step_h,
                                                            step_w, dy.data()),
                    dx[iy * c.w + ix], 1e-5)
            << "at " << iy << "," << ix;
  }
}

}  // namespace
}  // namespace nsal
