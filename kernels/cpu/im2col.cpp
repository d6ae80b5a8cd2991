#include "kernels/cpu/im2col.h"

#include <algorithm>

#include "kernels/cpu/line_ops.h"

namespace nsal::kernels::cpu {
namespace {

// The output positions o in [0, out) whose input index o * stride + offset lies in [0, in).
struct ValidRange {
  int64_t lo, hi;
};

inline ValidRange valid_range(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  hi = std::min(hi, out);
  return {lo, std::max(lo, hi)};
}

// Walks every (row, od, oh) line of the column matrix, handing each line either to
// `on_line(col_line, x_line, w_range)` when its input line exists, or to
// `on_pad(col_line)` when it falls in the padding. Output column o of the line reads input column
// o * stride + off_w of x_line.
template <typename T, typename ColPtr, typename XPtr, typename OnLine, typename OnPad>
inline void for_each_line(const ConvShape& s, int64_t channels, ColPtr col, int64_t ld, XPtr x,
                          int64_t line0, int64_t line1, OnLine on_line, OnPad on_pad) {
  const Dims3 out = s.out();
  const int64_t D = s.in[0], H = s.in[1], W = s.in[2];
  const int64_t in_size = s.in_size();
  int64_t row = 0;
  for (int64_t ch = 0; ch < channels; ++ch) {
    XPtr xc = x + ch * in_size;
    for (int64_t kd = 0; kd < s.kernel[0]; ++kd) {
      const int64_t off_d = kd * s.dilation[0] - s.pad[0];
      const ValidRange rd = valid_range(off_d, s.stride[0], D, out[0]);
      for (int64_t kh = 0; kh < s.kernel[1]; ++kh) {
        const int64_t off_h = kh * s.dilation[1] - s.pad[1];
        const ValidRange rh = valid_range(off_h, s.stride[1], H, out[1]);
        for (int64_t kw = 0; kw < s.kernel[2]; ++kw, ++row) {
          const int64_t off_w = kw * s.dilation[2] - s.pad[2];
          const ValidRange rw = valid_range(off_w, s.stride[2], W, out[2]);
          ColPtr line = col + row * ld;
          for (int64_t od = line0 / out[1]; od * out[1] < line1; ++od) {
            const bool d_ok = od >= rd.lo && od < rd.hi;
            const int64_t id = od * s.stride[0] + off_d;
            const int64_t oh_end = std::min(out[1], line1 - od * out[1]);
            for (int64_t oh = std::max<int64_t>(0, line0 - od * out[1]); oh < oh_end;
                 ++oh, line += out[2]) {
              if (!d_ok || oh < rh.lo || oh >= rh.hi) {
                on_pad(line);
                continue;
              }
              const int64_t ih = oh * s.stride[1] + off_h;
              on_line(line, xc + (id * H + ih) * W, off_w, rw);
            }
          }
        }
      }
    }
  }
}

}  // namespace

template <typename T>
void im2col(const ConvShape& s, int64_t channels, const T* x, T* col, int64_t ld, int64_t line0,
            int64_t line1) {
  if (line1 < 0) line1 = conv_out_lines(s);
  const int64_t ow = s.out_dim(2), sw = s.stride[2];
  for_each_line<T, T*, const T*>(
      s, channels, col, ld, x, line0, line1,
      [ow, sw](T* line, const T* src, int64_t off, ValidRange r) {
        line_ops::zero(line, r.lo);
        line_ops::copy(line + r.lo, src + r.lo * sw + off, r.hi - r.lo, sw);
        line_ops::zero(line + r.hi, ow - r.hi);
      },
      [ow](T* line) { line_ops::zero(line, ow); });
}

template <typename T>
void col2im_add(const ConvShape& s, int64_t channels, const T* col, int64_t ld, T* x, int64_t line0,
                int64_t line1) {
  if (line1 < 0) line1 = conv_out_lines(s);
  const int64_t sw = s.stride[2];
  for_each_line<T, const T*, T*>(
      s, channels, col, ld, x, line0, line1,
      [sw](const T* line, T* dst, int64_t off, ValidRange r) {
        line_ops::add(dst + r.lo * sw + off, line + r.lo, r.hi - r.lo, sw);
      },
      [](const T*) {});
}

template void im2col<float>(const ConvShape&, int64_t, const float*, float*, int64_t, int64_t,
                            int64_t);
template void im2col<double>(const ConvShape&, int64_t, const double*, double*, int64_t, int64_t,
                             int64_t);
template void col2im_add<float>(const ConvShape&, int64_t, const float*, int64_t, float*, int64_t,
                                int64_t);
template void col2im_add<double>(const ConvShape&, int64_t, const double*, int64_t, double*,
                                 int64_t, int64_t);

}  // namespace nsal::kernels::cpu
