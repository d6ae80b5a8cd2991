// Softmax / log-softmax over dim 1, cross-entropy, MSE and L1 on the GPU against the float64
// references. expf/logf are within 2 ulp of the true values: 1e-6 absolute + 1e-5 relative.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cuda_test_util.h"
#include "tests/gpu_reference.h"

namespace nsal {
namespace {

// A GPU test of this file: skips with the reason when no device answers.
class CudaSoftmaxLoss : public testing::CudaTest {};

using testing::expect_close;
using testing::f32;
using testing::random_floats;
using testing::to_double;
using testing::to_gpu;
using testing::to_host;
namespace gpu = kernels::gpu;

struct NCP {
  int64_t n, c, p;
};
// (N, C) with small and large C (warp per row), (N, C, P) (thread per row).
// P == 1 with 5000 rows spans several blocks of the loss's reduction.
const NCP kShapes[] = {{8, 10, 1}, {4, 1000, 1}, {5000, 10, 1}, {3, 5, 37}, {2, 19, 64}};

TEST_F(CudaSoftmaxLoss, SoftmaxAndLogSoftmaxMatchReference) {
  for (NCP sh : kShapes) {
    SCOPED_TRACE("N=" + std::to_string(sh.n) + " C=" + std::to_string(sh.c) +
                 " P=" + std::to_string(sh.p));
    const int64_t total = sh.n * sh.c * sh.p;
    std::vector<float> x = random_floats(total, 1, -6.f, 6.f), dy = random_floats(total, 2);
    Tensor xt = to_gpu(x), dyt = to_gpu(dy);
    for (bool log : {false, true}) {
      Tensor y = testing::gpu_nans(total), dx = testing::gpu_nans(total);
      if (log) {
        gpu::log_softmax_forward(ex(), sh.n, sh.c, sh.p, f32(xt), f32(y));
        gpu::log_softmax_backward(ex(), sh.n, sh.c, sh.p, f32(y), f32(dyt), f32(dx));
      } else {
        gpu::softmax_forward(ex(), sh.n, sh.c, sh.p, f32(xt), f32(y));
        gpu::softmax_backward(ex(), sh.n, sh.c, sh.p, f32(y), f32(dyt), f32(dx));
      }
      sync();
      ref::Vec yw = ref::softmax(to_double(x), sh.n, sh.c, sh.p, log);
      // Backward from the definitions, using the reference output.
      ref::Vec dxw(total);
      for (int64_t b = 0; b < sh.n; ++b)
        for (int64_t q = 0; q < sh.p; ++q) {
          double dot = 0;
          for (int64_t k = 0; k < sh.c; ++k) {
            int64_t i = (b * sh.c + k) * sh.p + q;
            dot += log ? dy[i] : dy[i] * yw[i];
          }
          for (int64_t k = 0; k < sh.c; ++k) {
            int64_t i = (b * sh.c + k) * sh.p + q;
            dxw[i] = log ? dy[i] - std::exp(yw[i]) * dot : yw[i] * (dy[i] - dot);
          }
        }
      expect_close(to_host(y), yw, 1e-6, 1e-5, log ? "log_softmax" : "softmax");
      expect_close(to_host(dx), dxw, 1e-5, 1e-4, log ? "log_softmax dx" : "softmax dx");
    }
  }
}

// Cross-entropy with class weights and ignored elements; mean and sum. The loss is summed in
// double and divided once: 1e-5 relative. dlogits: 1e-6 absolute + 1e-4 relative.
TEST_F(CudaSoftmaxLoss, CrossEntropyMatchesReference) {
  const int32_t ignore = -100;
  for (NCP sh : kShapes) {
    for (bool weighted : {false, true})
      for (bool mean : {true, false}) {
        SCOPED_TRACE("N=" + std::to_string(sh.n) + " C=" + std::to_string(sh.c) +
                     " P=" + std::to_string(sh.p) + (weighted ? " weighted" : "") +
                     (mean ? " mean" : " sum"));
        const int64_t total = sh.n * sh.c * sh.p, rows = sh.n * sh.p;
        std::vector<float> x = random_floats(total, 3, -4.f, 4.f),
                           w = random_floats(sh.c, 4, 0.1f, 2.f);
        std::vector<int32_t> labels(rows);
        for (int64_t r = 0; r < rows; ++r)
          labels[r] = r % 7 == 3 ? ignore : static_cast<int32_t>((r * 13 + 5) % sh.c);
        Tensor xt = to_gpu(x), wt = to_gpu(w), lt = to_gpu(labels), loss = testing::gpu_nans(1),
               wsum = testing::gpu_zeros(1, DType::f64), dx = testing::gpu_nans(total);
        const float* wp = weighted ? f32(wt) : nullptr;
        const auto red = mean ? gpu::Reduction::mean : gpu::Reduction::sum;
        gpu::cross_entropy_forward(ex(), sh.n, sh.c, sh.p, f32(xt), lt.data<int32_t>(), wp, ignore,
                                   red, f32(loss), wsum.data<double>());
        gpu::cross_entropy_backward(ex(), sh.n, sh.c, sh.p, f32(xt), lt.data<int32_t>(), wp, ignore,
                                    red, wsum.data<double>(), 2.f, f32(dx));
        sync();
        ref::Vec wd = to_double(w);
        ref::CrossEntropy want = ref::cross_entropy(to_double(x), labels, weighted ? &wd : nullptr,
                                                    sh.n, sh.c, sh.p, ignore, mean);
        EXPECT_NEAR(to_host(loss)[0], want.loss, 1e-5 * (1 + std::abs(want.loss)));
        EXPECT_NEAR(to_host<double>(wsum)[0], want.weight_sum, 1e-9 * want.weight_sum);
        for (auto& g : want.dlogits)
          g *= 2.0;  // dloss = 2
        expect_close(to_host(dx), want.dlogits, 1e-6, 1e-4, "dlogits");
      }
  }
}

TEST_F(CudaSoftmaxLoss, CrossEntropyEdgeCases) {
  const int64_t n = 4, c = 3;
  std::vector<float> x = random_floats(n * c, 5);
  Tensor xt = to_gpu(x), loss = testing::gpu_zeros(1), wsum = testing::gpu_zeros(1, DType::f64);
  // Every element ignored: mean is 0/0 = NaN, as in PyTorch; sum is 0.
  Tensor all_ignored = to_gpu(std::vector<int32_t>(n, -1));
  gpu::cross_entropy_forward(ex(), n, c, 1, f32(xt), all_ignored.data<int32_t>(), nullptr, -1,
                             gpu::Reduction::mean, f32(loss), wsum.data<double>());
  sync();
  EXPECT_TRUE(std::isnan(to_host(loss)[0]));
  gpu::cross_entropy_forward(ex(), n, c, 1, f32(xt), all_ignored.data<int32_t>(), nullptr, -1,
                             gpu::Reduction::sum, f32(loss), wsum.data<double>());
  sync();
  EXPECT_EQ(to_host(loss)[0], 0.f);
  // A label outside [0, C) that is not the ignore index poisons the loss (NaN), never a silent
  // out-of-bounds read.
  Tensor bad = to_gpu(std::vector<int32_t>{0, 1, 7, 2});
  gpu::cross_entropy_forward(ex(), n, c, 1, f32(xt), bad.data<int32_t>(), nullptr, -100,
                             gpu::Reduction::mean, f32(loss), wsum.data<double>());
  sync();
  EXPECT_TRUE(std::isnan(to_host(loss)[0]));
}

TEST_F(CudaSoftmaxLoss, MseAndL1MatchReference) {
  const int64_t n = 5000;
  std::vector<float> x = random_floats(n, 6), t = random_floats(n, 7);
  x[0] = t[0];  // L1's gradient at 0 is 0
  Tensor xt = to_gpu(x), tt = to_gpu(t), loss = testing::gpu_nans(1), dx = testing::gpu_nans(n);
  for (bool l1 : {false, true})
    for (bool mean : {true, false}) {
      SCOPED_TRACE(std::string(l1 ? "l1" : "mse") + (mean ? " mean" : " sum"));
      const auto red = mean ? gpu::Reduction::mean : gpu::Reduction::sum;
      if (l1) {
        gpu::l1_forward(ex(), n, f32(xt), f32(tt), red, f32(loss));
        gpu::l1_backward(ex(), n, f32(xt), f32(tt), red, 0.5f, f32(dx));
      } else {
        gpu::mse_forward(ex(), n, f32(xt), f32(tt), red, f32(loss));
        gpu::mse_backward(ex(), n, f32(xt), f32(tt), red, 0.5f, f32(dx));
      }
      sync();
      double sum = 0;
      ref::Vec g(n);
      const double norm = mean ? 1.0 / n : 1.0;
      for (int64_t i = 0; i < n; ++i) {
        double d = static_cast<double>(x[i]) - t[i];
        sum += l1 ? std::abs(d) : d * d;
        g[i] = 0.5 * norm * (l1 ? (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) : 2.0 * d);
      }
      const double want = mean ? sum / n : sum;
      EXPECT_NEAR(to_host(loss)[0], want, 1e-6 * (1 + want));
      expect_close(to_host(dx), g, 1e-9, 1e-5, "dx");
    }
}

}  // namespace
}  // namespace nsal
