// Dropout masks (kernels/dropout.h): a function of (seed, step, element) only.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/dropout.h"

namespace nsal {
namespace {

TEST(DropoutMask, KeepsAboutOneMinusPAndDependsOnlyOnItsInputs) {
  const int64_t n = 200000;
  for (float p : {0.1f, 0.5f, 0.9f}) {
    int64_t kept = 0, same_next_step = 0;
    for (int64_t i = 0; i < n; ++i) {
      bool k = kernels::dropout_keep(42, 7, i, p);
      kept += k;
      EXPECT_EQ(k, kernels::dropout_keep(42, 7, i, p));  // reproducible
      same_next_step += k == kernels::dropout_keep(42, 8, i, p);
    }
    const double sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(kept), n * (1 - p), 5 * sd) << "p = " << p;
    // Another step is another mask: agreement near p^2 + (1-p)^2, far from 1.
    EXPECT_NEAR(static_cast<double>(same_next_step) / n, p * p + (1 - p) * (1 - p), 0.01);
  }
}

TEST(DropoutMask, ExtremesAndScale) {
  for (int64_t i = 0; i < 1000; ++i) {
    EXPECT_TRUE(kernels::dropout_keep(1, 0, i, 0.f));
    EXPECT_FALSE(kernels::dropout_keep(1, 0, i, 1.f));
  }
  EXPECT_FLOAT_EQ(kernels::dropout_scale(0.5f), 2.f);
  EXPECT_FLOAT_EQ(kernels::dropout_scale(0.f), 1.f);
  EXPECT_EQ(kernels::dropout_scale(1.f), 0.f);
}

}  // namespace
}  // namespace nsal
