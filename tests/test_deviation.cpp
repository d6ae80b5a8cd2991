// Deviation kernels (kernels/deviation.h) against naive references and non-finite handling (the
// GPU against the CPU: test_cuda_deviation.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/deviation.h"
#include "kernels/error.h"
#include "tests/deviation_test_util.h"
#include "tests/layer_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;
using testing::Outputs;
using testing::random_outputs;

std::vector<double> naive_softmax(const std::vector<double>& x) {
  double m = x[0];
  for (double v : x)
    m = std::max(m, v);
  double s = 0;
  for (double v : x)
    s += std::exp(v - m);
  std::vector<double> p;
  for (double v : x)
    p.push_back(std::exp(v - m) / s);
  return p;
}

// Channel vector of (sample, pixel) from an (N, C, P) array, through softmax if asked.
std::vector<double> pixel(const std::vector<float>& x, int64_t s, int64_t q, int64_t c, int64_t p,
                          bool softmax) {
  std::vector<double> v;
  for (int64_t k = 0; k < c; ++k)
    v.push_back(x[(s * c + k) * p + q]);
  return softmax ? naive_softmax(v) : v;
}

std::vector<double> naive_scores(const Outputs& o, int64_t n, int64_t c, int64_t p,
                                 const std::vector<uint8_t>& valid, bool softmax) {
  std::vector<double> r(n, 0.0);
  for (int64_t s = 0; s < n; ++s) {
    int64_t nv = 0;
    double acc = 0;
    for (int64_t q = 0; q < p; ++q) {
      if (!valid.empty() && !valid[s * p + q]) continue;
      std::vector<double> a = pixel(o.clean, s, q, c, p, softmax);
      std::vector<double> b = pixel(o.pert, s, q, c, p, softmax);
      for (int64_t k = 0; k < c; ++k)
        acc += (b[k] - a[k]) * (b[k] - a[k]);
      ++nv;
    }
    r[s] = nv ? acc / nv : 0.0;
  }
  return r;
}

TEST(Deviation, ClassificationScoresMatchNaive) {
  const int64_t n = 257, c = 10;
  for (bool softmax : {true, false}) {
    Outputs o = random_outputs(n, c, 1, 3.0f, 1);
    std::vector<float> score(n, 0.25f);  // accumulates on top of what is there
    EXPECT_EQ(kernels::accumulate_sq_deviation(o.clean.data(), o.pert.data(), n, c, 1, nullptr,
                                               softmax, score.data()),
              0);
    std::vector<double> ref = naive_scores(o, n, c, 1, {}, softmax);
    for (int64_t s = 0; s < n; ++s)
      EXPECT_NEAR(score[s], 0.25 + ref[s], 1e-6 * (0.25 + ref[s])) << s;
    kernels::finalize_mean(score.data(), n, 4);
    for (int64_t s = 0; s < n; ++s)
      EXPECT_NEAR(score[s], (0.25 + ref[s]) / 4, 1e-6) << s;
  }
}

TEST(Deviation, SegmentationAveragesOverValidPixels) {
  const int64_t n = 5, c = 4, p = 37;
  Outputs o = random_outputs(n, c, p, 2.0f, 2);
  std::vector<uint8_t> valid(n * p);
  for (int64_t i = 0; i < n * p; ++i)
    valid[i] = (i * 7) % 5 != 0;
  for (int64_t q = 0; q < p; ++q)
    valid[3 * p + q] = 0;  // sample 3: no valid pixel
  // Garbage in invalid pixels is ignored.
  for (int64_t q = 0; q < p; ++q)
    if (!valid[0 * p + q]) o.pert[(0 * c + 1) * p + q] = NAN;
  std::vector<float> score(n, 0.0f);
  EXPECT_EQ(kernels::accumulate_sq_deviation(o.clean.data(), o.pert.data(), n, c, p, valid.data(),
                                             true, score.data()),
            0);
  std::vector<double> ref = naive_scores(o, n, c, p, valid, true);
  for (int64_t s = 0; s < n; ++s)
    EXPECT_NEAR(score[s], ref[s], 1e-6 * ref[s] + 1e-12) << s;
  EXPECT_EQ(score[3], 0.0f);
  // Without a mask every pixel counts.
  std::vector<float> all(n, 0.0f);
  Outputs f = random_outputs(n, c, p, 2.0f, 3);
  kernels::accumulate_sq_deviation(f.clean.data(), f.pert.data(), n, c, p, nullptr, false,
                                   all.data());
  std::vector<double> ref_all = naive_scores(f, n, c, p, {}, false);
  for (int64_t s = 0; s < n; ++s)
    EXPECT_NEAR(all[s], ref_all[s], 1e-6 * ref_all[s]) << s;
}

TEST(Deviation, NonFiniteOutputsAreReportedNotScored) {
  const int64_t n = 6, c = 3;
  Outputs o = random_outputs(n, c, 1, 1.0f, 4);
  o.pert[1 * c + 2] = NAN;
  o.clean[4 * c + 0] = INFINITY;
  for (bool softmax : {true, false}) {
    std::vector<float> score(n, 0.0f);
    EXPECT_EQ(kernels::accumulate_sq_deviation(o.clean.data(), o.pert.data(), n, c, 1, nullptr,
                                               softmax, score.data()),
              2);
    for (int64_t s = 0; s < n; ++s)
      EXPECT_EQ(std::isnan(score[s]), s == 1 || s == 4) << s;
  }
  std::vector<float> out(n * c * 2, 0.0f);
  std::vector<float> score(n, 0.0f);
  EXPECT_EQ(kernels::deviation_vectors(o.clean.data(), o.pert.data(), n, c, true, 1, 2, out.data(),
                                       score.data()),
            2);
  EXPECT_TRUE(std::isnan(out[1 * c * 2 + c]));
  EXPECT_FALSE(std::isnan(out[0 * c * 2 + c]));
  for (int64_t s = 0; s < n; ++s)
    EXPECT_EQ(std::isnan(score[s]), s == 1 || s == 4) << s;
}

// The `released` pass scores in the same read of the outputs: the same bits as the separate
// accumulation, draw after draw, with softmax or without; a zero clean row (no direction, its
// vector NaN) still gets its finite score.
TEST(Deviation, ReleasedPassScoresAsTheSeparateAccumulation) {
  const int64_t n = 41, c = 9, k_draws = 3;
  for (bool softmax : {true, false}) {
    std::vector<float> fused(n, 0.0f), separate(n, 0.0f), out(n * c * k_draws);
    for (int64_t k = 0; k < k_draws; ++k) {
      Outputs d = random_outputs(n, c, 1, 3.0f, 20 + static_cast<int>(k));
      for (int64_t j = 0; j < c; ++j)
        d.clean[5 * c + j] = 0.0f;  // sample 5: a zero clean row
      kernels::deviation_vectors(d.clean.data(), d.pert.data(), n, c, softmax, k, k_draws,
                                 out.data(), fused.data());
      kernels::accumulate_sq_deviation(d.clean.data(), d.pert.data(), n, c, 1, nullptr, softmax,
                                       separate.data());
    }
    for (int64_t s = 0; s < n; ++s) {
      EXPECT_EQ(fused[s], separate[s]) << s;
      EXPECT_GT(fused[s], 0.0f) << s;
    }
    EXPECT_EQ(std::isnan(out[5 * c * k_draws]), !softmax);  // softmax of zeros is uniform
  }
}

TEST(Deviation, ReleasedVectorsMatchNaive) {
  const int64_t n = 33, c = 7, k_draws = 3;
  Outputs base = random_outputs(n, c, 1, 2.0f, 5);
  std::vector<float> out(n * c * k_draws, -1.0f);
  std::vector<Outputs> draws;
  for (int64_t k = 0; k < k_draws; ++k) {
    Outputs d = random_outputs(n, c, 1, 2.0f, 5);  // same clean
    Outputs noise = random_outputs(n, c, 1, 1.0f, 100 + k);
    for (int64_t i = 0; i < n * c; ++i)
      d.pert[i] = d.clean[i] + 0.01f * noise.clean[i];
    draws.push_back(d);
    EXPECT_EQ(kernels::deviation_vectors(d.clean.data(), d.pert.data(), n, c, true, k, k_draws,
                                         out.data(), nullptr),
              0);
  }
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < k_draws; ++k) {
      std::vector<double> a = pixel(draws[k].clean, s, 0, c, 1, true);
      std::vector<double> b = pixel(draws[k].pert, s, 0, c, 1, true);
      double norm = 0;
      for (double v : a)
        norm += v * v;
      norm = std::sqrt(norm);
      for (int64_t j = 0; j < c; ++j)
        EXPECT_NEAR(out[s * c * k_draws + k * c + j], (b[j] - a[j]) / norm, 1e-7)
            << s << " " << k << " " << j;
    }
  // Identity g: a zero clean row has no direction and is reported.
  std::vector<float> zero(c, 0.0f), one(c, 1.0f), row(c);
  EXPECT_EQ(
      kernels::deviation_vectors(zero.data(), one.data(), 1, c, false, 0, 1, row.data(), nullptr),
      1);
  EXPECT_EQ(
      kernels::deviation_vectors(one.data(), zero.data(), 1, c, false, 0, 1, row.data(), nullptr),
      0);
  EXPECT_NEAR(row[0], -1.0 / std::sqrt(double(c)), 1e-7);
}

TEST(Deviation, BadArgumentsAreClearErrors) {
  std::vector<float> a(4), s(4);
  EXPECT_THROW(
      kernels::accumulate_sq_deviation(a.data(), a.data(), 2, 0, 1, nullptr, true, s.data()),
      ShapeError);
  expect_error_mentions(
      [&] { kernels::deviation_vectors(a.data(), a.data(), 2, 2, true, 3, 3, s.data(), nullptr); },
      {"draw 3", "outside [0, 3)"});
  expect_error_mentions([&] { kernels::finalize_mean(s.data(), 4, 0); }, {"0 draws"});
}

}  // namespace
}  // namespace nsal
