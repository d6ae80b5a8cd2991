// Dropout masks (kernels/dropout.h): a function of (seed, step, element) only.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/philox.h"

#include "kernels/dropout.h"

namespace nsal {
namespace {

TEST(DropoutMask, KeepsAboutOneMinusPAndDependsOnlyOnItsInputs) {
  const int64_t n = 200000;
  for (double p : {0.1, 0.5, 0.9}) {
    const uint64_t t = kernels::dropout_threshold(p);
    int64_t kept = 0, same_next_step = 0;
    for (int64_t i = 0; i < n; ++i) {
      bool k = kernels::dropout_keep_element(42, 7, i, t);
      kept += k;
      // Word i % 4 of Philox(key 42, counter (i / 4, 7)), compared with the threshold.
      const auto words =
          philox::philox4x32_10(philox::make_counter(i / 4, 7), philox::make_key(42));
      EXPECT_EQ(k, static_cast<uint64_t>(words.v[i % 4]) >= t);
      same_next_step += k == kernels::dropout_keep_element(42, 8, i, t);
    }
    const double sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(kept), n * (1 - p), 5 * sd) << "p = " << p;
    // Another step is another mask: agreement near p^2 + (1-p)^2, far from 1.
    EXPECT_NEAR(static_cast<double>(same_next_step) / n, p * p + (1 - p) * (1 - p), 0.01);
  }
}

TEST(DropoutMask, Extremes) {
  for (int64_t i = 0; i < 1000; ++i) {
    EXPECT_TRUE(kernels::dropout_keep_element(1, 0, i, kernels::dropout_threshold(0.0)));
    EXPECT_FALSE(kernels::dropout_keep_element(1, 0, i, kernels::dropout_threshold(1.0)));
  }
}

}  // namespace
}  // namespace nsal
