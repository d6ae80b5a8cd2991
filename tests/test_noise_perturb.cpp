// In-place perturbation and exact restore (kernels/noise_perturber.h) on the CPU, against a
// naive element-by-element reference.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>

#include "kernels/error.h"
#include "kernels/noise_perturber.h"
#include "tests/layer_test_util.h"
#include "tests/noise_test_arenas.h"

namespace nsal {
namespace {

using kernels::NoiseDist;
using kernels::NoisePerturber;
using kernels::NoiseScaling;
using kernels::NoiseSpec;
using testing::expect_error_mentions;
using testing::TestArena;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Naive per-segment sums of squares: plain sequential double loops.
std::vector<double> naive_sumsq(const TestArena& a, const std::vector<float>& v) {
  std::vector<double> s;
  for (const auto& g : a.segments) {
    double acc = 0;
    for (int64_t i = g.offset; i < g.offset + g.numel; ++i)
      acc += double(v[i]) * double(v[i]);
    s.push_back(acc);
  }
  return s;
}

std::vector<float> naive_noise(const TestArena& a, uint64_t seed, uint64_t draw, NoiseDist d) {
  std::vector<float> z(a.w.size(), 0.0f);
  for (const auto& g : a.segments)
    for (int64_t i = g.offset; i < g.offset + g.numel; ++i)
      z[i] = kernels::noise_at(seed, draw, static_cast<uint64_t>(i), d);
  return z;
}

// The perturbed arena, element by element, from the perturber's own scales: w + float(scale * z)
// in float, a NaN sum written as the one NaN 0x7fffffff (the rule kernels/noise.h states).
std::vector<float> naive_perturbed(const TestArena& a, const std::vector<float>& scales,
                                   uint64_t seed, uint64_t draw, NoiseDist d) {
  std::vector<float> p = a.w;
  for (size_t s = 0; s < a.segments.size(); ++s)
    for (int64_t i = a.segments[s].offset; i < a.segments[s].offset + a.segments[s].numel; ++i) {
      // No FMA: the kernels' -ffp-contract=off applies to this file too.
      const float delta = scales[s] * kernels::noise_at(seed, draw, i, d);
      const float sum = a.w[i] + delta;
      const uint32_t canonical_nan = 0x7fffffffu;
      if (std::isnan(sum))
        std::memcpy(&p[i], &canonical_nan, sizeof p[i]);
      else
        p[i] = sum;
    }
  return p;
}

NoisePerturber make(const TestArena& a, int log_per_tile = NoisePerturber::kDefaultLogPerTile) {
  return NoisePerturber(a.segments.data(), static_cast<int>(a.segments.size()),
                        static_cast<int64_t>(a.w.size()), false, 0, nullptr, log_per_tile);
}

// K = 20 draws: every perturbed arena equals the naive one, every restore is bit-exact.
enum class Fallback { none, some, any };

void check_draws(TestArena a, const NoiseSpec& base, int log_per_tile, Fallback expect,
                 const char* what) {
  NoisePerturber np = make(a, log_per_tile);
  np.measure_weights(a.w.data());
  const std::vector<float> clean = a.w;
  std::vector<float> w = a.w;
  int64_t fallback_tiles = 0, logged = 0;
  for (uint64_t k = 0; k < 20; ++k) {
    NoiseSpec spec = base;
    spec.dist = static_cast<NoiseDist>(k % 3);
    kernels::NoiseDrawStats st = np.perturb(w.data(), spec, k);
    EXPECT_EQ(st.perturbed, np.layout().selected_numel);
    fallback_tiles += st.fallback_tiles;
    logged += st.logged;
    std::vector<float> ref = naive_perturbed(a, np.last_scales(), spec.seed, k, spec.dist);
    ASSERT_TRUE(same_bits(w, ref)) << what << ": perturbed arena differs, draw " << k;
    np.restore(w.data());
    ASSERT_TRUE(same_bits(w, clean)) << what << ": restore not exact, draw " << k;
  }
  EXPECT_GT(logged + fallback_tiles, 0) << what << ": the exception path was never taken";
  if (expect == Fallback::some) {
    EXPECT_GT(fallback_tiles, 0) << what;
  } else if (expect == Fallback::none) {
    EXPECT_EQ(fallback_tiles, 0) << what;
  }
}

TEST(NoisePerturb, RestoreIsBitExactOnRealisticWeights) {
  TestArena a = testing::realistic_arena(1);
  // About 0.6% of these weights fail the round trip at lambda = 1e-3 (the default log holds
  // 1.6% per tile), 4% at 1e-2 (some tiles fall back).
  for (double lambda : {1e-4, 1e-3, 1e-2}) {
    for (NoiseScaling sc : {NoiseScaling::global_relative, NoiseScaling::segment_relative}) {
      NoiseSpec spec{1234, NoiseDist::gaussian, sc, lambda};
      check_draws(a, spec, NoisePerturber::kDefaultLogPerTile,
                  lambda < 1e-2 ? Fallback::none : Fallback::any, "realistic");
    }
  }
  NoiseSpec c{99, NoiseDist::gaussian, NoiseScaling::constant, 1e-4};
  check_draws(a, c, NoisePerturber::kDefaultLogPerTile, Fallback::none, "realistic constant");
}

TEST(NoisePerturb, RestoreIsBitExactOnAdversarialValues) {
  TestArena a = testing::adversarial_arena(2, false);
  for (double lambda : {1e-3, 1e-1, 1.0}) {
    for (NoiseScaling sc : {NoiseScaling::global_relative, NoiseScaling::segment_relative}) {
      NoiseSpec spec{77, NoiseDist::gaussian, sc, lambda};
      // Most of these values fail the round trip: the log overflows and tiles fall back.
      check_draws(a, spec, NoisePerturber::kDefaultLogPerTile, Fallback::some, "adversarial");
    }
  }
  TestArena nf = testing::adversarial_arena(3, true);  // with infinities and NaN payloads
  for (double lambda : {1e-6, 1e-2, 1.0}) {
    NoiseSpec spec{5, NoiseDist::gaussian, NoiseScaling::constant, lambda};
    check_draws(nf, spec, NoisePerturber::kDefaultLogPerTile, Fallback::some, "non-finite");
  }
}

TEST(NoisePerturb, FallbackPathAloneIsExact) {
  // No log at all: every tile with an exception falls back to its saved copy.
  TestArena a = testing::realistic_arena(4);
  NoiseSpec spec{8, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-3};
  check_draws(a, spec, 0, Fallback::some, "log_per_tile = 0");
  // A log that holds everything: no fallback even at lambda = 1.
  NoiseSpec big{8, NoiseDist::gaussian, NoiseScaling::global_relative, 1.0};
  check_draws(testing::adversarial_arena(5, false), big, static_cast<int>(kernels::kNoiseTile),
              Fallback::none, "log_per_tile = tile");
}

TEST(NoisePerturb, PerturbedValuesDoNotDependOnTheLogSize) {
  TestArena a = testing::adversarial_arena(6, false);
  NoiseSpec spec{3, NoiseDist::laplace, NoiseScaling::segment_relative, 0.3};
  std::vector<float> first;
  for (int cap : {0, 1, 64, 4096}) {
    NoisePerturber np = make(a, cap);
    np.measure_weights(a.w.data());
    std::vector<float> w = a.w;
    np.perturb(w.data(), spec, 11);
    if (first.empty())
      first = w;
    else
      EXPECT_TRUE(same_bits(w, first)) << "log_per_tile " << cap;
    np.restore(w.data());
    EXPECT_TRUE(same_bits(w, a.w));
  }
}

TEST(NoisePerturb, IdenticalAcrossThreadCounts) {
  TestArena a = testing::adversarial_arena(7, false);
  NoiseSpec spec{21, NoiseDist::gaussian, NoiseScaling::global_relative, 0.05};
  int saved = omp_get_max_threads();
  std::vector<float> ref_w;
  kernels::NoiseLogSnapshot ref_log;
  int64_t ref_fallback = -1;
  for (int threads : {1, 2, 3, 8}) {
    omp_set_num_threads(threads);
    NoisePerturber np = make(a, 16);
    np.measure_weights(a.w.data());
    std::vector<float> w = a.w;
    kernels::NoiseDrawStats st = np.perturb(w.data(), spec, 2);
    kernels::NoiseLogSnapshot log = np.log_snapshot();
    if (ref_fallback < 0) {
      ref_w = w;
      ref_log = log;
      ref_fallback = st.fallback_tiles;
    } else {
      EXPECT_TRUE(same_bits(w, ref_w)) << threads;
      EXPECT_EQ(log.counts, ref_log.counts) << threads;
      EXPECT_EQ(log.positions, ref_log.positions) << threads;
      EXPECT_EQ(log.values, ref_log.values) << threads;
      EXPECT_EQ(st.fallback_tiles, ref_fallback) << threads;
    }
    np.restore(w.data());
    EXPECT_TRUE(same_bits(w, a.w));
  }
  omp_set_num_threads(saved);
}

TEST(NoisePerturb, NormsMatchNaiveDoubleSums) {
  for (TestArena a : {testing::realistic_arena(8), testing::adversarial_arena(9, false)}) {
    NoisePerturber np = make(a);
    np.measure_weights(a.w.data());
    std::vector<double> ref_w = naive_sumsq(a, a.w);
    for (size_t s = 0; s < ref_w.size(); ++s)
      EXPECT_NEAR(np.weight_sumsq()[s], ref_w[s], 1e-13 * ref_w[s]) << "segment " << s;
    for (NoiseDist d : {NoiseDist::gaussian, NoiseDist::uniform, NoiseDist::laplace}) {
      std::vector<double> got = np.noise_sumsq(31, 4, d);
      std::vector<double> ref = naive_sumsq(a, naive_noise(a, 31, 4, d));
      for (size_t s = 0; s < ref.size(); ++s)
        EXPECT_NEAR(got[s], ref[s], 1e-13 * ref[s]) << "segment " << s;
    }
  }
}

double norm_of_delta(const TestArena& a, size_t s, float scale, uint64_t seed, uint64_t draw,
                     NoiseDist d) {
  double acc = 0;
  for (int64_t i = a.segments[s].offset; i < a.segments[s].offset + a.segments[s].numel; ++i) {
    double v = kernels::noise_delta(scale, kernels::noise_at(seed, draw, i, d));
    acc += v * v;
  }
  return acc;
}

TEST(NoisePerturb, ScalingsGiveTheRequestedNoiseNorms) {
  TestArena a = testing::realistic_arena(10);
  NoisePerturber np = make(a);
  np.measure_weights(a.w.data());
  std::vector<double> w2 = naive_sumsq(a, a.w);
  double theta2 = 0;
  for (double v : w2)
    theta2 += v;
  std::vector<float> w = a.w;
  for (double lambda : {1e-3, 0.5}) {
    // paper: ||noise|| over all segments = lambda ||theta||; one xi everywhere.
    NoiseSpec g{17, NoiseDist::gaussian, NoiseScaling::global_relative, lambda};
    np.perturb(w.data(), g, 0);
    std::vector<float> sc = np.last_scales();
    double n2 = 0;
    for (size_t s = 0; s < a.segments.size(); ++s) {
      EXPECT_EQ(sc[s], sc[0]);
      n2 += norm_of_delta(a, s, sc[s], g.seed, 0, g.dist);
    }
    EXPECT_NEAR(std::sqrt(n2), lambda * std::sqrt(theta2), 1e-6 * lambda * std::sqrt(theta2));
    // The applied noise (w + d - w) too, within the rounding of the additions.
    double applied = 0;
    for (size_t i = 0; i < w.size(); ++i)
      applied += (double(w[i]) - a.w[i]) * (double(w[i]) - a.w[i]);
    EXPECT_NEAR(std::sqrt(applied), lambda * std::sqrt(theta2), 1e-3 * lambda * std::sqrt(theta2));
    np.restore(w.data());
    // released: per segment, ||noise_s|| = lambda ||w_s||.
    NoiseSpec r{18, NoiseDist::uniform, NoiseScaling::segment_relative, lambda};
    np.perturb(w.data(), r, 1);
    sc = np.last_scales();
    for (size_t s = 0; s < a.segments.size(); ++s) {
      double ns = std::sqrt(norm_of_delta(a, s, sc[s], r.seed, 1, r.dist));
      EXPECT_NEAR(ns, lambda * std::sqrt(w2[s]), 1e-6 * lambda * std::sqrt(w2[s])) << s;
    }
    np.restore(w.data());
    // constant: scale = lambda.
    NoiseSpec c{19, NoiseDist::laplace, NoiseScaling::constant, lambda};
    np.perturb(w.data(), c, 2);
    for (float s : np.last_scales())
      EXPECT_EQ(s, static_cast<float>(lambda));
    np.restore(w.data());
  }
  EXPECT_TRUE(same_bits(w, a.w));
}

TEST(NoisePerturb, OnlyListedSegmentsAreTouched) {
  TestArena a = testing::realistic_arena(12);
  // Perturb every other tensor (e.g. weights only): the rest and the padding keep their bits.
  TestArena half = a;
  half.segments.clear();
  for (size_t s = 0; s < a.segments.size(); s += 2)
    half.segments.push_back(a.segments[s]);
  NoisePerturber np = make(half);
  np.measure_weights(a.w.data());
  std::vector<float> w = a.w;
  np.perturb(w.data(), {1, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-2}, 0);
  for (size_t s = 0; s < a.segments.size(); ++s) {
    const auto& g = a.segments[s];
    int64_t changed = 0;
    for (int64_t i = g.offset; i < g.offset + g.numel; ++i)
      changed += w[i] != a.w[i];
    if (s % 2) {
      EXPECT_EQ(changed, 0) << "segment " << s;
    } else {
      EXPECT_GT(changed, g.numel / 2) << "segment " << s;
    }
  }
  for (size_t i = 0; i < a.w.size(); ++i) {
    bool inside = false;
    for (const auto& g : a.segments)
      inside |= int64_t(i) >= g.offset && int64_t(i) < g.offset + g.numel;
    if (!inside) {
      EXPECT_EQ(w[i], 0.0f) << "padding " << i;
    }
  }
  np.restore(w.data());
  EXPECT_TRUE(same_bits(w, a.w));
}

TEST(NoisePerturb, ExtraMemoryIsASmallFractionOfTheArena) {
  TestArena a = testing::realistic_arena(13);
  NoisePerturber np = make(a);
  np.measure_weights(a.w.data());
  std::vector<float> w = a.w;
  kernels::NoiseDrawStats st =
      np.perturb(w.data(), {1, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-3}, 0);
  EXPECT_EQ(st.fallback_tiles, 0);
  // log: 6 bytes per 64 elements of 4 bytes (2.3%), plus small per-tile and per-piece tables.
  EXPECT_LT(np.extra_bytes(), a.w.size() * sizeof(float) / 20);
  np.restore(w.data());
}

TEST(NoisePerturb, MisuseIsAClearError) {
  TestArena a = testing::realistic_arena(14);
  NoisePerturber np = make(a);
  std::vector<float> w = a.w;
  NoiseSpec spec{1, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-3};
  expect_error_mentions([&] { np.perturb(w.data(), spec, 0); },
                        {"measure_weights() first"});  // relative scaling, weights not measured
  np.measure_weights(w.data());
  np.perturb(w.data(), spec, 0);
  expect_error_mentions([&] { np.perturb(w.data(), spec, 1); }, {"twice without restore()"});
  std::vector<float> other = a.w;
  expect_error_mentions([&] { np.restore(other.data()); }, {"another buffer"});
  np.restore(w.data());
  expect_error_mentions([&] { np.restore(w.data()); }, {"without a perturb()"});
  spec.lambda = -1;
  expect_error_mentions([&] { np.perturb(w.data(), spec, 0); }, {"lambda", ">= 0"});

  std::vector<kernels::NoiseSegment> overlap = {{0, 100}, {50, 10}};
  expect_error_mentions([&] { NoisePerturber(overlap.data(), 2, 1000); },
                        {"segment 1", "sorted and disjoint"});
  std::vector<kernels::NoiseSegment> outside = {{990, 20}};
  expect_error_mentions([&] { NoisePerturber(outside.data(), 1, 1000); },
                        {"segment 0", "outside the arena"});
  std::vector<kernels::NoiseSegment> ok = {{0, 10}};
  expect_error_mentions([&] { NoisePerturber(ok.data(), 1, 1000, false, 0, nullptr, -1); },
                        {"log_per_tile", "[0, 4096]"});
}

TEST(NoisePerturb, LayoutCutsSegmentsIntoTilePieces) {
  std::vector<kernels::NoiseSegment> segs = {{0, 5000}, {5000, 10}, {8192, 4096}, {20000, 0}};
  kernels::NoiseLayout L = kernels::make_noise_layout(segs.data(), 4, 30000);
  ASSERT_EQ(L.pieces.size(), 4u);  // [0,4096) [4096,5000) [5000,5010) [8192,12288)
  EXPECT_EQ(L.tiles, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(L.tile_pieces, (std::vector<int32_t>{0, 1, 3, 4}));
  EXPECT_EQ(L.segment_pieces, (std::vector<int32_t>{0, 2, 3, 4, 4}));
  EXPECT_EQ(L.selected_numel, 5000 + 10 + 4096);
}

}  // namespace
}  // namespace nsal
