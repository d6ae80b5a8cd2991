// Selection on the GPU (Thrust top-N, warp-per-row k-center) against the CPU: the same indices.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "kernels/error.h"
#include "kernels/select.h"
#include "tests/cuda_buffer.h"
#include "tests/select_test_util.h"

namespace nsal {
namespace {

using testing::kcenter;
using testing::random_features;
using testing::top;

TEST(SelectCuda, TopNMatchesTheCpu) {
  NSAL_REQUIRE_GPU();
  std::mt19937 rng(5);
  std::vector<float> s(200003);
  for (float& v : s)
    v = static_cast<float>(rng() % 20000) / 7.0f;
  for (int i = 0; i < 500; ++i)
    s[rng() % s.size()] = NAN;
  s[11] = -0.0f;
  s[12] = 0.0f;
  testing::CudaBuffer<float> g(s);
  for (int64_t k : {1, 2500, 200003}) {
    std::vector<int64_t> gpu(k, -1);
    int64_t m = kernels::top_n(g.get(), s.size(), k, gpu.data(), true);
    gpu.resize(m);
    EXPECT_EQ(gpu, top(s, k)) << k;
  }
}

TEST(SelectCuda, KCenterMatchesTheCpu) {
  NSAL_REQUIRE_GPU();
  for (auto [n, d] : {std::pair<int64_t, int64_t>{5003, 100}, {2000, 31}, {1000, 1}}) {
    std::vector<float> x = random_features(n, d, 6);
    testing::CudaBuffer<float> g(x);
    for (std::vector<int64_t> init : {std::vector<int64_t>{}, std::vector<int64_t>{0, 9, 99}}) {
      const int64_t budget = 200;
      size_t ws = kernels::kcenter_workspace_bytes(n, init.size(), budget);
      testing::CudaBuffer<char> w(ws);
      std::vector<int64_t> gpu(budget, -1);
      kernels::kcenter_greedy(g.get(), n, d, init.data(), init.size(), budget, gpu.data(), true,
                              w.get(), ws);
      EXPECT_EQ(gpu, kcenter(x, n, d, init, budget)) << n << "x" << d;
    }
  }
  // Non-finite features are reported on the GPU too.
  std::vector<float> x = random_features(100, 5, 7);
  x[42 * 5 + 1] = NAN;
  testing::CudaBuffer<float> g(x);
  size_t ws = kernels::kcenter_workspace_bytes(100, 0, 3);
  testing::CudaBuffer<char> w(ws);
  std::vector<int64_t> out(3);
  EXPECT_THROW(
      kernels::kcenter_greedy(g.get(), 100, 5, nullptr, 0, 3, out.data(), true, w.get(), ws),
      Error);
}

}  // namespace
}  // namespace nsal
