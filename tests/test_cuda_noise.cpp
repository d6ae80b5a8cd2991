// GPU noise and perturbation against the CPU backend: the contract is bit-identity (noise,
// norms, scales, perturbed weights, logs, fallback tiles) and an exact restore on the device.
// Every test skips with the reason when no CUDA device answers.
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/error.h"
#include "kernels/memory.h"
#include "kernels/noise_perturber.h"
#include "tests/cuda_buffer.h"
#include "tests/layer_test_util.h"
#include "tests/noise_test_arenas.h"
#ifdef NSAL_WITH_CUDA
#include "tests/curand_reference.h"
#endif

namespace nsal {
namespace {

using kernels::NoiseDist;
using kernels::NoisePerturber;
using kernels::NoiseScaling;
using kernels::NoiseSpec;
using testing::CudaBuffer;
using testing::expect_error_mentions;
using testing::TestArena;

const NoiseDist kAllDists[] = {NoiseDist::gaussian, NoiseDist::uniform, NoiseDist::laplace};

// Bit for bit (NaN weights make NaN sums and scales, which == would call different).
template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST(NoiseCuda, PhiloxLayoutIsCurandsLayout) {
  NSAL_REQUIRE_GPU();
#ifdef NSAL_WITH_CUDA
  // Group g of draw k = curand_init(seed, k, 4 g) followed by four curand() calls.
  const uint64_t seeds[] = {0, 42, 0xdeadbeefcafef00dull};
  const uint64_t draws[] = {0, 1, 9, 0x100000003ull};
  const uint64_t groups[] = {0, 1, 2792, 0x123456789ull};
  for (uint64_t seed : seeds)
    for (uint64_t k : draws)
      for (uint64_t g : groups) {
        uint32_t ref[8];
        testing::curand_philox_words(seed, k, 4 * g, 8, ref);
        for (int q = 0; q < 2; ++q) {
          philox::U32x4 w =
              philox::philox4x32_10(philox::make_counter(g + q, k), philox::make_key(seed));
          for (int e = 0; e < 4; ++e)
            EXPECT_EQ(w.v[e], ref[4 * q + e])
                << "seed " << seed << " draw " << k << " group " << g + q << " word " << e;
        }
      }
#endif
}

TEST(NoiseCuda, FillIsBitIdenticalToTheCpu) {
  NSAL_REQUIRE_GPU();
  for (NoiseDist d : kAllDists) {
    for (auto [first, n] : {std::pair<int64_t, int64_t>{0, 1},
                            {3, 5},
                            {1001, 777777},
                            {(int64_t{1} << 33) + 1, 100000}}) {
      std::vector<float> cpu(n);
      kernels::noise_fill(cpu.data(), first, n, 99, 3, d);
      CudaBuffer<float> gpu(n);
      kernels::noise_fill(gpu.get(), first, n, 99, 3, d, true);
      EXPECT_TRUE(same_bits(cpu, gpu.host()))
          << kernels::noise_dist_name(d) << " first " << first << " n " << n;
    }
  }
}

NoisePerturber make(const TestArena& a, bool cuda, int cap) {
  return NoisePerturber(a.segments.data(), static_cast<int>(a.segments.size()),
                        static_cast<int64_t>(a.w.size()), cuda, 0, nullptr, cap);
}

void compare_backends(const TestArena& a, NoiseSpec spec, int cap, const char* what) {
  NoisePerturber cpu = make(a, false, cap), gpu = make(a, true, cap);
  std::vector<float> wc = a.w;
  CudaBuffer<float> wg(a.w);
  cpu.measure_weights(wc.data());
  gpu.measure_weights(wg.get());
  ASSERT_TRUE(same_bits(cpu.weight_sumsq(), gpu.weight_sumsq())) << what;
  for (uint64_t k = 0; k < 20; ++k) {
    spec.dist = kAllDists[k % 3];
    ASSERT_TRUE(same_bits(cpu.noise_sumsq(spec.seed, k, spec.dist),
                          gpu.noise_sumsq(spec.seed, k, spec.dist)))
        << what << " draw " << k;
    kernels::NoiseDrawStats sc = cpu.perturb(wc.data(), spec, k);
    kernels::NoiseDrawStats sg = gpu.perturb(wg.get(), spec, k);
    EXPECT_TRUE(same_bits(cpu.last_scales(), gpu.last_scales())) << what << " draw " << k;
    EXPECT_EQ(sc.logged, sg.logged) << what << " draw " << k;
    EXPECT_EQ(sc.fallback_tiles, sg.fallback_tiles) << what << " draw " << k;
    EXPECT_EQ(sc.fallback_elements, sg.fallback_elements) << what << " draw " << k;
    ASSERT_TRUE(same_bits(wc, wg.host())) << what << ": perturbed weights differ, draw " << k;
    kernels::NoiseLogSnapshot lc = cpu.log_snapshot(), lg = gpu.log_snapshot();
    EXPECT_EQ(lc.counts, lg.counts) << what << " draw " << k;
    // Compare only the used log slots (the rest is stale from earlier draws).
    for (size_t t = 0; t < lc.counts.size(); ++t)
      for (int j = 0; j < lc.counts[t]; ++j) {
        size_t s = t * cap + j;
        ASSERT_EQ(lc.positions[s], lg.positions[s]) << what << " tile " << t;
        ASSERT_EQ(lc.values[s], lg.values[s]) << what << " tile " << t;
      }
    cpu.restore(wc.data());
    gpu.restore(wg.get());
    ASSERT_TRUE(same_bits(wg.host(), a.w)) << what << ": GPU restore not exact, draw " << k;
    ASSERT_TRUE(same_bits(wc, a.w)) << what << ": CPU restore not exact, draw " << k;
  }
}

TEST(NoiseCuda, PerturbAndRestoreAreBitIdenticalToTheCpu) {
  NSAL_REQUIRE_GPU();
  TestArena real = testing::realistic_arena(1);
  TestArena adv = testing::adversarial_arena(2, false);
  for (NoiseScaling sc :
       {NoiseScaling::global_relative, NoiseScaling::segment_relative, NoiseScaling::constant}) {
    compare_backends(real, {7, NoiseDist::gaussian, sc, 1e-3}, 64, "realistic");
    compare_backends(adv, {8, NoiseDist::gaussian, sc, 0.1}, 64, "adversarial");
  }
}

TEST(NoiseCuda, FallbackIsBitIdenticalToTheCpu) {
  NSAL_REQUIRE_GPU();
  compare_backends(testing::realistic_arena(3),
                   {9, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-3}, 0, "cap 0");
  compare_backends(testing::adversarial_arena(4, false),
                   {10, NoiseDist::gaussian, NoiseScaling::global_relative, 1.0}, 64, "lambda 1");
  compare_backends(testing::adversarial_arena(5, true),
                   {11, NoiseDist::gaussian, NoiseScaling::constant, 0.5}, 16, "non-finite");
}

TEST(NoiseCuda, ResNetSizedArenaRestoresExactly) {
  NSAL_REQUIRE_GPU();
  // A large arena (many tiles, big segments) on the device alone: K draws, exact every time.
  std::vector<int64_t> sizes;
  for (int i = 0; i < 20; ++i)
    sizes.push_back(i % 2 ? 512 : 147456 + 64 * i);
  TestArena a = testing::layout_arena(sizes);
  std::vector<float> noise(a.w.size());
  kernels::noise_fill(noise.data(), 0, static_cast<int64_t>(noise.size()), 5, 0,
                      NoiseDist::gaussian);
  for (const auto& g : a.segments)
    for (int64_t i = g.offset; i < g.offset + g.numel; ++i)
      a.w[i] = 0.05f * noise[i];
  NoisePerturber gpu = make(a, true, 64);
  CudaBuffer<float> wg(a.w);
  gpu.measure_weights(wg.get());
  for (uint64_t k = 0; k < 20; ++k) {
    gpu.perturb(wg.get(), {1, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-3}, k);
    gpu.restore(wg.get());
  }
  EXPECT_TRUE(same_bits(wg.host(), a.w));
}

// With no room for the overflowing tiles' copies, perturb() fails with the out-of-memory error
// and leaves the weights as they were, bit for bit (the tiles it had perturbed are put back);
// with room again the same draw runs and restores as usual.
TEST(NoiseCuda, NoRoomForFallbackCopiesLeavesTheWeightsAsTheyWere) {
  NSAL_REQUIRE_GPU();
  TestArena a = testing::realistic_arena(3);
  NoisePerturber gpu = make(a, true, 0);  // a log of 0: every tile with an exception falls back
  CudaBuffer<float> wg(a.w);
  gpu.measure_weights(wg.get());
  const NoiseSpec spec{9, NoiseDist::gaussian, NoiseScaling::global_relative, 1e-3};
  kernels::set_allocation_limit(64);  // a fallback copy is kNoiseTile floats per tile
  EXPECT_THROW(gpu.perturb(wg.get(), spec, 0), OutOfMemoryError);
  kernels::set_allocation_limit(0);
  EXPECT_FALSE(gpu.is_perturbed());
  EXPECT_TRUE(same_bits(wg.host(), a.w)) << "a failed perturb() left the weights changed";
  const kernels::NoiseDrawStats st = gpu.perturb(wg.get(), spec, 0);
  EXPECT_GT(st.fallback_tiles, 0) << "the test needs fallback tiles";
  gpu.restore(wg.get());
  EXPECT_TRUE(same_bits(wg.host(), a.w));
}

TEST(NoiseCuda, HostPointerIsAClearError) {
  NSAL_REQUIRE_GPU();
  TestArena a = testing::realistic_arena(6);
  NoisePerturber gpu = make(a, true, 64);
  expect_error_mentions([&] { gpu.measure_weights(a.w.data()); },
                        {"measure_weights", "not CUDA device memory"});
}

TEST(NoiseCuda, WithoutADeviceTheCudaPathSaysWhy) {
  if (kernels::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device answers";
  std::vector<kernels::NoiseSegment> segs = {{0, 10}};
  expect_error_mentions([&] { NoisePerturber(segs.data(), 1, 16, true); },
                        {"CUDA device 0", "does not answer"});
}

}  // namespace
}  // namespace nsal
