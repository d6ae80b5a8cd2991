// Selection (kernels/select.h): top-N ties and NaN, greedy k-center against a naive O(N^2)
// greedy, determinism across threads (the GPU against the CPU: test_cuda_select.cpp).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/error.h"
#include "kernels/select.h"
#include "tests/layer_test_util.h"
#include "tests/select_test_util.h"

namespace nsal {
namespace {

using testing::expect_error_mentions;
using testing::kcenter;
using testing::random_features;
using testing::top;

std::vector<int64_t> naive_top(const std::vector<float>& s, int64_t k) {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < (int64_t)s.size(); ++i)
    if (!std::isnan(s[i])) idx.push_back(i);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
  idx.resize(std::min<size_t>(idx.size(), k));
  return idx;
}

TEST(TopN, TiesGoToTheLowerIndexAndNaNIsNeverSelected) {
  std::vector<float> s = {0.5f, NAN, 0.7f, 0.5f, 0.7f, -0.0f, 0.0f, INFINITY, NAN, 0.5f};
  EXPECT_EQ(top(s, 4), (std::vector<int64_t>{7, 2, 4, 0}));
  EXPECT_EQ(top(s, 6), (std::vector<int64_t>{7, 2, 4, 0, 3, 9}));
  // -0 and +0 are equal: index order.
  EXPECT_EQ(top(s, 8), (std::vector<int64_t>{7, 2, 4, 0, 3, 9, 5, 6}));
  // Asking for more than the non-NaN scores returns fewer.
  EXPECT_EQ(top(s, 100).size(), 8u);
  std::vector<float> all_nan(5, NAN);
  EXPECT_TRUE(top(all_nan, 3).empty());
}

TEST(TopN, MatchesAFullStableSort) {
  std::mt19937 rng(1);
  std::vector<float> s(100000);
  for (float& v : s)
    v = static_cast<float>(rng() % 5000) / 100.0f;  // many ties
  for (int i = 0; i < 100; ++i)
    s[rng() % s.size()] = NAN;
  for (int64_t k : {1, 10, 2500, 99950})
    EXPECT_EQ(top(s, k), naive_top(s, k)) << k;
}

// Naive greedy k-center: full double distances, plain loops.
std::vector<int64_t> naive_kcenter(const std::vector<float>& x, int64_t n, int64_t d,
                                   const std::vector<int64_t>& init, int64_t budget) {
  auto dist = [&](int64_t i, const float* c) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) {
      double t = double(x[i * d + j]) - (c ? double(c[j]) : 0.0);
      s += t * t;
    }
    return s;
  };
  std::vector<double> md(n, HUGE_VAL);
  std::vector<bool> taken(n, false);
  for (int64_t i = 0; i < n; ++i) {
    if (init.empty()) md[i] = dist(i, nullptr);
    for (int64_t c : init)
      md[i] = std::min(md[i], dist(i, &x[c * d]));
  }
  for (int64_t c : init)
    taken[c] = true;
  std::vector<int64_t> out;
  for (int64_t b = 0; b < budget; ++b) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; ++i)
      if (!taken[i] && (best < 0 || md[i] > md[best])) best = i;
    out.push_back(best);
    taken[best] = true;
    for (int64_t i = 0; i < n; ++i)
      md[i] = std::min(md[i], dist(i, &x[best * d]));
  }
  return out;
}

TEST(KCenter, MatchesNaiveGreedyFromTheOriginAndFromALabelledSet) {
  for (auto [n, d] : {std::pair<int64_t, int64_t>{500, 7}, {300, 70}, {64, 1}}) {
    std::vector<float> x = random_features(n, d, 2);
    EXPECT_EQ(kcenter(x, n, d, {}, 40), naive_kcenter(x, n, d, {}, 40)) << n << "x" << d;
    std::vector<int64_t> init = {3, 17, 42, 17};  // a duplicate is fine
    EXPECT_EQ(kcenter(x, n, d, init, 30), naive_kcenter(x, n, d, init, 30)) << n << "x" << d;
  }
}

TEST(KCenter, DuplicateRowsTieToTheLowerIndex) {
  const int64_t d = 3;
  std::vector<float> x = {1, 1, 1, 5, 5, 5, 0, 0, 0, 5, 5, 5, 1, 1, 1};
  // From the origin: rows 1 and 3 tie at the largest distance; 1 wins. Then row 3 is at 0 and
  // row 0/4 (tied) are farthest; 0 wins; then 4 (still 0 away from 0... at distance 0), ...
  std::vector<int64_t> got = kcenter(x, 5, d, {}, 5);
  EXPECT_EQ(got, naive_kcenter(x, 5, d, {}, 5));
  EXPECT_EQ(got[0], 1);
  EXPECT_EQ(got[1], 0);
  std::vector<int64_t> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4}));  // every row once
}

TEST(KCenter, IdenticalAcrossThreadCounts) {
  const int64_t n = 2000, d = 33;
  std::vector<float> x = random_features(n, d, 3);
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<int64_t> ref = kcenter(x, n, d, {5, 6}, 100);
  for (int t : {2, 3, 8}) {
    omp_set_num_threads(t);
    EXPECT_EQ(kcenter(x, n, d, {5, 6}, 100), ref) << t;
  }
  omp_set_num_threads(saved);
}

TEST(KCenter, BadInputIsAClearError) {
  std::vector<float> x = random_features(10, 4, 4);
  std::vector<int64_t> out(20);
  expect_error_mentions(
      [&] { kernels::kcenter_greedy(x.data(), 10, 4, nullptr, 0, 11, out.data()); },
      {"budget 11", "exceeds"});
  std::vector<int64_t> init = {0, 1};
  expect_error_mentions(
      [&] { kernels::kcenter_greedy(x.data(), 10, 4, init.data(), 2, 9, out.data()); },
      {"budget 9", "not centres already"});
  std::vector<int64_t> outside = {10};
  expect_error_mentions(
      [&] { kernels::kcenter_greedy(x.data(), 10, 4, outside.data(), 1, 1, out.data()); },
      {"row 10", "outside [0, 10)"});
  x[7 * 4 + 2] = NAN;
  expect_error_mentions(
      [&] { kernels::kcenter_greedy(x.data(), 10, 4, nullptr, 0, 3, out.data()); },
      {"row 7", "non-finite"});
  x[7 * 4 + 2] = INFINITY;
  expect_error_mentions(
      [&] { kernels::kcenter_greedy(x.data(), 10, 4, init.data(), 2, 3, out.data()); },
      {"row 7", "non-finite"});
  EXPECT_THROW(kernels::kcenter_greedy(x.data(), 10, 0, nullptr, 0, 3, out.data()), ShapeError);
}

}  // namespace
}  // namespace nsal
