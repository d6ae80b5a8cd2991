// Thread-count independence of the CPU convolution and fully connected layer (DESIGN §4): forward,
// input gradient, filter gradient and bias gradient come out bit for bit the same on 1 to 5
// threads, on every path conv_forward/conv_backward choose (im2col + GEMM with several samples per
// GEMM or bands of output lines, 1x1 straight from x, groups, volumes; Winograd in 2D, dilated and
// 3D; the direct depthwise loops), and for batches smaller than the thread count. The filter
// gradient goes both of its ways (lanes of chunks summed apart; one lane, shared out within each
// chunk) and is accumulated onto non-zero values, as a layer accumulates over micro-batches.
#include <gtest/gtest.h>
#include <omp.h>

#include <string>
#include <vector>

#include "kernels/cpu/conv_cpu.h"
#include "kernels/cpu/linear_cpu.h"
#include "tests/random_floats.h"
#include "tests/tensor_bytes.h"

namespace nsal::kernels::cpu {
namespace {

std::vector<float> random_values(int64_t n, uint64_t seed) {
  return testing::random_floats(static_cast<size_t>(n), seed);
}

struct Results {
  std::vector<float> y, dx, dw, db;
};

Results run_on(const ConvShape& s, int threads) {
  const int keep = omp_get_max_threads();
  omp_set_num_threads(threads);
  const std::vector<float> x = random_values(s.x_numel(), 1), w = random_values(s.w_numel(), 2),
                           b = random_values(s.k, 3), dy = random_values(s.y_numel(), 4);
  Results r;
  r.y.assign(static_cast<size_t>(s.y_numel()), 0.f);
  r.dx.assign(static_cast<size_t>(s.x_numel()), 0.f);
  r.dw = random_values(s.w_numel(), 5);  // accumulated onto
  r.db = random_values(s.k, 6);
  std::vector<char> ws(conv_workspace_bytes(s, sizeof(float)));
  conv_forward<float>(s, x.data(), w.data(), b.data(), r.y.data(), ws.data(), ws.size());
  conv_backward<float>(s, x.data(), w.data(), dy.data(), r.dx.data(), r.dw.data(), r.db.data(),
                       ws.data(), ws.size());
  omp_set_num_threads(keep);
  return r;
}

struct Case {
  const char* what;
  ConvShape s;
};

std::vector<Case> cases() {
  return {
      {"im2col, samples side by side", conv2d_shape(24, 16, 8, 8, 32, 3, 3, 2, 1)},
      {"im2col, bands of lines", conv2d_shape(5, 4, 40, 36, 8, 5, 5, 1, 2)},
      {"im2col, one sample", conv2d_shape(1, 6, 30, 30, 10, 5, 5, 1, 2)},
      {"1x1 stride 2", conv2d_shape(16, 64, 16, 16, 128, 1, 1, 2, 0)},
      {"1x1 large planes", conv2d_shape(3, 16, 32, 32, 24, 1, 1, 1, 0)},
      {"groups", conv2d_shape(12, 16, 12, 12, 24, 3, 3, 1, 1, 1, 2)},
      {"3d im2col", conv3d_shape(4, 8, 8, 10, 10, 16, 3, 3, 3, 2, 1)},
      {"winograd", conv2d_shape(9, 8, 16, 16, 12, 3, 3, 1, 1)},
      {"winograd, small planes", conv2d_shape(48, 16, 8, 6, 8, 3, 3, 1, 1)},
      {"winograd, batch below threads", conv2d_shape(3, 8, 32, 30, 8, 3, 3, 1, 1)},
      {"winograd, dilated", conv2d_shape(5, 8, 24, 20, 8, 3, 3, 1, 2, 2)},
      {"winograd, 3d", conv3d_shape(2, 8, 8, 12, 12, 8, 3, 3, 3, 1, 1)},
      // du (16, K, C) of 17.3 MB: one lane, shared out chunk by chunk.
      {"winograd, large filters", conv2d_shape(32, 520, 8, 8, 520, 3, 3, 1, 1)},
      // Inner dimensions between one and two of BLAS's K blocks (which its own threads would cut
      // differently), and batches smaller than the thread count.
      {"im2col, 450 rows of 3x3", conv2d_shape(2, 50, 16, 16, 64, 3, 3, 1, 1)},
      {"im2col, input gradient over 450 channels", conv2d_shape(2, 64, 16, 16, 450, 3, 3, 1, 1)},
      {"1x1 over 450 channels, one sample", conv2d_shape(1, 450, 32, 32, 64, 1, 1, 1, 0)},
      {"im2col, 450 rows, one sample", conv2d_shape(1, 50, 30, 30, 16, 3, 3, 1, 1)},
      {"winograd, 450 channels", conv2d_shape(2, 450, 32, 32, 64, 3, 3, 1, 1)},
      {"direct depthwise", conv2d_shape(16, 32, 24, 24, 32, 3, 3, 2, 1, 1, 32)},
  };
}

TEST(ConvThreads, BitIdenticalOnOneToFiveThreads) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(std::string(c.what) + " " + c.s.str());
    const Results one = run_on(c.s, 1);
    for (int threads = 2; threads <= 5; ++threads) {
      const Results r = run_on(c.s, threads);
      EXPECT_EQ(testing::first_bit_difference(r.y, one.y), -1) << "y on " << threads << " threads";
      EXPECT_EQ(testing::first_bit_difference(r.dx, one.dx), -1)
          << "dx on " << threads << " threads";
      EXPECT_EQ(testing::first_bit_difference(r.dw, one.dw), -1)
          << "dw on " << threads << " threads";
      EXPECT_EQ(testing::first_bit_difference(r.db, one.db), -1)
          << "db on " << threads << " threads";
    }
  }
}

// The fully connected layer's GEMMs, cut into tiles by the shape (inner dimensions of 450 and
// 600, between one and two of BLAS's K blocks), on 1 to 5 threads.
TEST(ConvThreads, LinearBitIdenticalOnOneToFiveThreads) {
  const int64_t rows = 600, in = 450, out = 300;
  const std::vector<float> x = random_values(rows * in, 1), w = random_values(out * in, 2),
                           b = random_values(out, 3), dy = random_values(rows * out, 4);
  std::vector<float> y1, dx1, dw1, db1;
  const int keep = omp_get_max_threads();
  for (int threads = 1; threads <= 5; ++threads) {
    omp_set_num_threads(threads);
    std::vector<float> y(static_cast<size_t>(rows * out)), dx(static_cast<size_t>(rows * in));
    std::vector<float> dw = random_values(out * in, 5), db = random_values(out, 6);
    linear_forward<float>(x.data(), w.data(), b.data(), y.data(), rows, in, out);
    linear_backward<float>(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), rows, in,
                           out);
    if (threads == 1) {
      y1 = y, dx1 = dx, dw1 = dw, db1 = db;
      continue;
    }
    EXPECT_EQ(testing::first_bit_difference(y, y1), -1) << "y on " << threads << " threads";
    EXPECT_EQ(testing::first_bit_difference(dx, dx1), -1) << "dx on " << threads << " threads";
    EXPECT_EQ(testing::first_bit_difference(dw, dw1), -1) << "dw on " << threads << " threads";
    EXPECT_EQ(testing::first_bit_difference(db, db1), -1) << "db on " << threads << " threads";
  }
  omp_set_num_threads(keep);
}

// The cases above take the paths they are named after, with work enough for threads.
TEST(ConvThreads, CasesCoverEveryPath) {
  int winograd = 0;
  for (const Case& c : cases()) {
    const bool want = std::string(c.what).rfind("winograd", 0) == 0;
    EXPECT_EQ(conv_uses_winograd(c.s), want) << c.what;
    EXPECT_TRUE(worth_threads(c.s)) << c.what << ": too small to run on threads";
    winograd += want ? 1 : 0;
  }
  EXPECT_EQ(winograd, 7);
}

}  // namespace
}  // namespace nsal::kernels::cpu
