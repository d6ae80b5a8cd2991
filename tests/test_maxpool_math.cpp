// Max-pool index math (kernels/maxpool.h), shared by the CPU and the CUDA kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/maxpool.h"
#include "tests/gpu_reference.h"

namespace nsal {
namespace {

kernels::MaxPoolGeom geom2d(int h, int w, int k, int s, int p) {
  const int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
  return kernels::MaxPoolGeom{1, h, w, 1, oh, ow, 1, k, k, 1, s, s, 0, p, p};
}

TEST(MaxPoolMath, TiesGoToTheFirstMaximumAndNaNTakesOver) {
  kernels::MaxPoolGeom g = geom2d(2, 2, 2, 2, 0);
  float v;
  const float ties[4] = {1, 3, 3, 2};
  EXPECT_EQ(kernels::maxpool_argmax(ties, g, 0, 0, 0, &v), 1);
  EXPECT_EQ(v, 3.f);
  const float nans[4] = {NAN, 5, NAN, 1};
  EXPECT_EQ(kernels::maxpool_argmax(nans, g, 0, 0, 0, &v), 2);  // the last NaN
  EXPECT_TRUE(std::isnan(v));
  const float inf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
  EXPECT_EQ(kernels::maxpool_argmax(inf, g, 0, 0, 0, &v), 0);
}

// Integer-valued inputs force ties; the gather backward must route each window's gradient to
// the same single element as the reference's scatter (so the sums are exact).
TEST(MaxPoolMath, GatherBackwardEqualsScatterWithTies) {
  struct Case {
    int h, w, k, s, p;
  };
  std::vector<Case> cases;
  for (int k = 1; k <= 4; ++k)
    for (int s = 1; s <= 3; ++s)
      for (int p = 0; 2 * p <= k; ++p)
        for (int h = 1; h <= 8; ++h)
          if (h + 2 * p >= k) cases.push_back(Case{h, h + 1, k, s, p});
  for (Case c : cases) {
    kernels::PoolParams pp;
    pp.n = pp.c = 1;
    pp.in[0] = c.h;
    pp.in[1] = c.w;
    pp.kernel[0] = pp.kernel[1] = c.k;
    pp.stride[0] = pp.stride[1] = c.s;
    pp.pad[0] = pp.pad[1] = c.p;
    if (c.w + 2 * c.p < c.k) continue;
    kernels::MaxPoolGeom g = geom2d(c.h, c.w, c.k, c.s, c.p);
    ASSERT_EQ(g.oh, pp.out(0));
    std::mt19937_64 rng(c.h * 10 + c.w);
    std::uniform_int_distribution<int> u(0, 2);
    std::vector<float> x(c.h * c.w), dy(g.oh * g.ow);
    for (auto& e : x)
      e = static_cast<float>(u(rng));
    for (auto& e : dy)
      e = static_cast<float>(u(rng) + 1);
    ref::Vec want =
        ref::pool_backward(pp, ref::Vec(x.begin(), x.end()), ref::Vec(dy.begin(), dy.end()));
    ref::Vec want_y = ref::pool_forward(pp, ref::Vec(x.begin(), x.end()));
    for (int oy = 0; oy < g.oh; ++oy)
      for (int ox = 0; ox < g.ow; ++ox) {
        float v;
        kernels::maxpool_argmax(x.data(), g, 0, oy, ox, &v);
        ASSERT_EQ(v, want_y[oy * g.ow + ox]);
      }
    for (int iy = 0; iy < c.h; ++iy)
      for (int ix = 0; ix < c.w; ++ix)
        ASSERT_EQ(kernels::maxpool_backward_gather(x.data(), dy.data(), g, 0, iy, ix),
                  want[iy * c.w + ix])
            << "at " << iy << "," << ix;
  }
}

}  // namespace
}  // namespace nsal
