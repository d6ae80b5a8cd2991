// Deviation kernels on the GPU against the CPU (scores and the released preset's vectors).
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "kernels/deviation.h"
#include "kernels/error.h"
#include "tests/cuda_buffer.h"
#include "tests/deviation_test_util.h"

namespace nsal {
namespace {

using testing::Outputs;
using testing::random_outputs;

// GPU vs CPU: both compute in double; exp and the pixel summation order differ, so scores agree
// to about 1e-15 relative before rounding to float; the tolerance is one float ulp (1.2e-7).
TEST(DeviationCuda, MatchesTheCpu) {
  NSAL_REQUIRE_GPU();
  using testing::CudaBuffer;
  for (auto [n, c, p] :
       {std::tuple<int64_t, int64_t, int64_t>{1000, 10, 1}, {300, 100, 1}, {7, 19, 4099}}) {
    Outputs o = random_outputs(n, c, p, 3.0f, 6);
    o.pert[c * p] = NAN;  // sample 1
    std::vector<uint8_t> valid(n * p);
    for (int64_t i = 0; i < n * p; ++i)
      valid[i] = i % 3 != 0;
    for (bool softmax : {true, false}) {
      for (bool masked : {false, true}) {
        std::vector<float> cpu(n, 0.5f);
        CudaBuffer<float> gpu(cpu), gc(o.clean), gp(o.pert);
        CudaBuffer<uint8_t> gv(valid);
        const uint8_t* vh = masked ? valid.data() : nullptr;
        const uint8_t* vd = masked ? gv.get() : nullptr;
        int64_t bc = kernels::accumulate_sq_deviation(o.clean.data(), o.pert.data(), n, c, p, vh,
                                                      softmax, cpu.data());
        int64_t bg = kernels::accumulate_sq_deviation(gc.get(), gp.get(), n, c, p, vd, softmax,
                                                      gpu.get(), true);
        EXPECT_EQ(bc, bg);
        std::vector<float> g = gpu.host();
        for (int64_t s = 0; s < n; ++s) {
          if (std::isnan(cpu[s])) {
            EXPECT_TRUE(std::isnan(g[s])) << s;
          } else {
            EXPECT_NEAR(g[s], cpu[s], 1.2e-7 * cpu[s]) << s;
          }
        }
      }
    }
    if (p == 1) {
      std::vector<float> vc(n * c * 2), sc(n, 0.5f);
      CudaBuffer<float> vg(vc), sg(sc);
      CudaBuffer<float> gc(o.clean), gp(o.pert);
      EXPECT_EQ(kernels::deviation_vectors(o.clean.data(), o.pert.data(), n, c, true, 1, 2,
                                           vc.data(), sc.data()),
                kernels::deviation_vectors(gc.get(), gp.get(), n, c, true, 1, 2, vg.get(), sg.get(),
                                           true));
      // The scores of the same pass: as the separate accumulation's (same tolerance).
      const std::vector<float> gs = sg.host();
      for (int64_t s = 0; s < n; ++s) {
        if (std::isnan(sc[s])) {
          EXPECT_TRUE(std::isnan(gs[s])) << s;
        } else {
          EXPECT_NEAR(gs[s], sc[s], 1.2e-7 * sc[s]) << s;
        }
      }
      std::vector<float> g = vg.host();
      for (int64_t i = 0; i < n * c * 2; ++i) {
        if (i % (2 * c) < c) continue;  // column block 0 was never written
        if (std::isnan(vc[i])) {
          EXPECT_TRUE(std::isnan(g[i]));
        } else {
          EXPECT_NEAR(g[i], vc[i], 1.2e-7 * std::fabs(vc[i]) + 1e-12) << i;  // one float ulp
        }
      }
    }
  }
}

}  // namespace
}  // namespace nsal
