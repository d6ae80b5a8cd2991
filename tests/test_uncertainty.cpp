#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/uncertainty.h"

namespace nsal {

using kernels::UncertaintyKind;

TEST(Uncertainty, HandBuiltRowsScoreAsExpected) {
  // Row 0 confident, row 1 uniform, row 2 split between two classes.
  std::vector<float> p = {0.98f, 0.01f, 0.01f, 1 / 3.f, 1 / 3.f, 1 / 3.f, 0.5f, 0.5f, 0.0f};
  std::vector<double> s(3);
  kernels::uncertainty_scores(p.data(), 3, 3, UncertaintyKind::entropy, s.data());
  EXPECT_NEAR(s[1], std::log(3.0), 1e-6);
  EXPECT_NEAR(s[2], std::log(2.0), 1e-7);
  EXPECT_LT(s[0], s[2]);
  kernels::uncertainty_scores(p.data(), 3, 3, UncertaintyKind::margin, s.data());
  EXPECT_NEAR(s[0], -0.97, 1e-6);
  EXPECT_NEAR(s[1], 0.0, 1e-7);
  EXPECT_NEAR(s[2], 0.0, 1e-7);
  kernels::uncertainty_scores(p.data(), 3, 3, UncertaintyKind::least_confidence, s.data());
  EXPECT_NEAR(s[0], 0.02, 1e-6);
  EXPECT_NEAR(s[1], 2 / 3.0, 1e-6);
  EXPECT_NEAR(s[2], 0.5, 1e-7);
}

TEST(Uncertainty, BaldSeparatesDisagreementFromAleatoricNoise) {
  // T = 2 passes, N = 2 samples, C = 2 classes.
  // Sample 0: both passes say (0.5, 0.5): high entropy, zero mutual information.
  // Sample 1: passes disagree confidently, (1, 0) then (0, 1): BALD = log 2.
  std::vector<float> p = {0.5f, 0.5f, 1.0f, 0.0f,   // pass 0
                          0.5f, 0.5f, 0.0f, 1.0f};  // pass 1
  std::vector<double> bald(2), ent(2), vr(2);
  kernels::mc_bald(p.data(), 2, 2, 2, bald.data());
  kernels::mc_entropy_of_mean(p.data(), 2, 2, 2, ent.data());
  kernels::mc_variation_ratio(p.data(), 2, 2, 2, vr.data());
  EXPECT_NEAR(bald[0], 0.0, 1e-7);
  EXPECT_NEAR(bald[1], std::log(2.0), 1e-7);
  EXPECT_NEAR(ent[0], std::log(2.0), 1e-7);
  EXPECT_NEAR(ent[1], std::log(2.0), 1e-7);
  EXPECT_NEAR(vr[0], 0.0, 1e-12);  // ties go to class 0 in both passes
  EXPECT_NEAR(vr[1], 0.5, 1e-12);
}

TEST(Uncertainty, OutputVarianceIsPopulationVarianceSummedOverOutputs) {
  // T = 3, N = 1, D = 2: outputs (1, 10), (2, 10), (3, 10).
  std::vector<float> y = {1, 10, 2, 10, 3, 10};
  double s = 0;
  kernels::mc_output_variance(y.data(), 3, 1, 2, &s);
  EXPECT_NEAR(s, 2.0 / 3.0, 1e-12);
}

}  // namespace nsal
