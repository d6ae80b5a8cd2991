// im2col / col2im and their vector inner loops, against plain loops.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/conv_cpu.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/line_ops.h"
#include "kernels/error.h"

namespace nsal::kernels::cpu {
namespace {

std::vector<double> random_vector(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> v(n);
  for (auto& e : v)
    e = u(rng);
  return v;
}

template <typename T>
void check_line_ops() {
  // Every run length around the vector widths, strides 1 to 3, with guard elements around the
  // destination that must stay untouched.
  for (int64_t stride = 1; stride <= 3; ++stride)
    for (int64_t n = 0; n <= 40; ++n) {
      const int64_t guard = 8, span = n * stride + guard;
      std::vector<double> r = random_vector(static_cast<size_t>(span + 2 * guard), 77 + n);
      std::vector<T> src(r.begin(), r.end()), dst(src.size(), T(5)), want(src.size(), T(5));
      line_ops::copy(dst.data() + guard, src.data() + guard, n, stride);
      for (int64_t i = 0; i < n; ++i)
        want[guard + i] = src[guard + i * stride];
      EXPECT_EQ(dst, want) << "copy n=" << n << " stride=" << stride;

      std::vector<T> acc(src.size()), acc_want;
      for (size_t i = 0; i < acc.size(); ++i)
        acc[i] = T(i % 7) - T(3);
      acc_want = acc;
      line_ops::add(acc.data() + guard, src.data() + guard, n, stride);
      for (int64_t i = 0; i < n; ++i)
        acc_want[guard + i * stride] += src[guard + i];
      EXPECT_EQ(acc, acc_want) << "add n=" << n << " stride=" << stride;

      std::vector<T> z(src.size(), T(5)), z_want(src.size(), T(5));
      line_ops::zero(z.data() + guard, n);
      for (int64_t i = 0; i < n; ++i)
        z_want[guard + i] = T(0);
      EXPECT_EQ(z, z_want) << "zero n=" << n;
    }
}

TEST(LineOps, MatchPlainLoopsFloat) {
  check_line_ops<float>();
}
TEST(LineOps, MatchPlainLoopsDouble) {
  check_line_ops<double>();
}

// The im2col matrix straight from its definition.
std::vector<double> naive_im2col(const ConvShape& s, int64_t channels,
                                 const std::vector<double>& x) {
  const Dims3 out = s.out();
  const int64_t cols = s.out_size();
  std::vector<double> col(static_cast<size_t>(channels * s.kernel_size() * cols), 0.0);
  int64_t row = 0;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t kd = 0; kd < s.kernel[0]; ++kd)
      for (int64_t kh = 0; kh < s.kernel[1]; ++kh)
        for (int64_t kw = 0; kw < s.kernel[2]; ++kw, ++row)
          for (int64_t od = 0; od < out[0]; ++od)
            for (int64_t oh = 0; oh < out[1]; ++oh)
              for (int64_t ow = 0; ow < out[2]; ++ow) {
                const int64_t id = od * s.stride[0] - s.pad[0] + kd * s.dilation[0];
                const int64_t ih = oh * s.stride[1] - s.pad[1] + kh * s.dilation[1];
                const int64_t iw = ow * s.stride[2] - s.pad[2] + kw * s.dilation[2];
                if (id < 0 || id >= s.in[0] || ih < 0 || ih >= s.in[1] || iw < 0 || iw >= s.in[2])
                  continue;
                col[row * cols + (od * out[1] + oh) * out[2] + ow] =
                    x[((c * s.in[0] + id) * s.in[1] + ih) * s.in[2] + iw];
              }
  return col;
}

std::vector<ConvShape> im2col_shapes() {
  std::vector<ConvShape> v;
  v.push_back(conv2d_shape(1, 3, 5, 7, 1, 3, 3, 1, 1));
  v.push_back(conv2d_shape(1, 2, 9, 10, 1, 3, 3, 2, 1));
  v.push_back(conv2d_shape(1, 2, 11, 35, 1, 5, 5, 3, 2, 2));
  v.push_back(conv2d_shape(1, 4, 4, 4, 1, 1, 1, 2, 0));
  v.push_back(conv2d_shape(1, 1, 2, 2, 1, 3, 3, 1, 1));
  v.push_back(conv2d_shape(1, 2, 6, 40, 1, 3, 3, 2, 1));  // stride-2 rows longer than a vector
  ConvShape a = conv2d_shape(1, 2, 7, 9, 1, 2, 3, 1, 0);
  a.stride = {1, 1, 2};
  a.pad = {0, 1, 0};
  v.push_back(a);
  v.push_back(conv3d_shape(1, 2, 4, 5, 6, 1, 3, 3, 3, 1, 1));
  ConvShape b = conv3d_shape(1, 2, 6, 5, 7, 1, 2, 3, 2, 1, 1);
  b.stride = {2, 1, 2};
  b.dilation = {1, 2, 1};
  v.push_back(b);
  return v;
}

template <typename T>
void check_im2col(const ConvShape& s) {
  const int64_t channels = s.c;
  const std::vector<double> xd = random_vector(static_cast<size_t>(channels * s.in_size()), 5);
  const std::vector<T> x(xd.begin(), xd.end());
  const std::vector<double> want =
      naive_im2col(s, channels, std::vector<double>(x.begin(), x.end()));
  const int64_t rows = channels * s.kernel_size(), cols = s.out_size(), ld = cols + 3;
  std::vector<T> col(static_cast<size_t>(rows * ld), T(9));
  im2col(s, channels, x.data(), col.data(), ld);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j)
      ASSERT_EQ(static_cast<double>(col[r * ld + j]),
                static_cast<double>(static_cast<T>(want[r * cols + j])))
          << s.str() << " row " << r << " col " << j;
    for (int64_t j = cols; j < ld; ++j)
      ASSERT_EQ(col[r * ld + j], T(9)) << "wrote past the row";
  }

  // A band of lines equals the same columns of the full matrix.
  const int64_t lines = conv_out_lines(s), ow = s.out_dim(2);
  const int64_t l0 = lines / 3, l1 = std::max(l0 + 1, 2 * lines / 3);
  const int64_t bcols = (l1 - l0) * ow;
  std::vector<T> band(static_cast<size_t>(rows * bcols));
  im2col(s, channels, x.data(), band.data(), bcols, l0, l1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < bcols; ++j)
      ASSERT_EQ(band[r * bcols + j], col[r * ld + l0 * ow + j]) << s.str() << " band";

  // col2im is the adjoint: <im2col(x), c> == <x, col2im(c)>, and bands add up to the whole.
  const std::vector<double> cd = random_vector(static_cast<size_t>(rows * ld), 6);
  const std::vector<T> c(cd.begin(), cd.end());
  std::vector<T> back(x.size(), T(0));
  col2im_add(s, channels, c.data(), ld, back.data());
  double lhs = 0, rhs = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      lhs += static_cast<double>(col[r * ld + j]) * c[r * ld + j];
  for (size_t i = 0; i < x.size(); ++i)
    rhs += static_cast<double>(x[i]) * back[i];
  EXPECT_NEAR(lhs, rhs, 1e-4 * (1 + std::abs(lhs))) << s.str();

  std::vector<T> banded(x.size(), T(0));
  for (int64_t a = 0; a < lines; a += 2) {
    const int64_t b = std::min(lines, a + 2);
    col2im_add(s, channels, c.data() + a * ow, ld, banded.data(), a, b);
  }
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(static_cast<double>(banded[i]), static_cast<double>(back[i]), 1e-5) << s.str();
}

TEST(Im2col, MatchesDefinitionFloat) {
  for (const ConvShape& s : im2col_shapes())
    check_im2col<float>(s);
}
TEST(Im2col, MatchesDefinitionDouble) {
  for (const ConvShape& s : im2col_shapes())
    check_im2col<double>(s);
}

TEST(ConvKernels, RejectBadShapesAndSmallWorkspaces) {
  ConvShape s = conv2d_shape(2, 6, 8, 8, 4, 3, 3, 1, 1, 1, 4);  // 6 channels, 4 groups
  EXPECT_THROW(s.validate(), ShapeError);
  s = conv2d_shape(2, 4, 2, 2, 4, 5, 5);  // kernel larger than the input
  EXPECT_THROW(s.validate(), ShapeError);
  s = conv2d_shape(4, 4, 8, 8, 4, 3, 3, 1, 1);
  const size_t need = conv_workspace_bytes(s, sizeof(float));
  ASSERT_GT(need, 0u);
  std::vector<float> x(static_cast<size_t>(s.x_numel())), w(static_cast<size_t>(s.w_numel())),
      y(static_cast<size_t>(s.y_numel()));
  std::vector<char> ws(need);
  EXPECT_THROW(conv_forward<float>(s, x.data(), w.data(), nullptr, y.data(), ws.data(), need - 1),
               ShapeError);
  EXPECT_NO_THROW(conv_forward<float>(s, x.data(), w.data(), nullptr, y.data(), ws.data(), need));
}

}  // namespace
}  // namespace nsal::kernels::cpu
