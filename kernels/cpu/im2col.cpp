#include "kernels/cpu/im2col.h"

#include <algorithm>

#include "kernels/cpu/line_ops.h"
#include "kernels/cpu/simd_rows.h"

namespace nsal::kernels::cpu {
namespace {

// Walks every (row, od, oh) line of the column matrix. For each row, make_row(off_w, w_range)
// builds the row's operations `ops`; each line then goes to ops.line(col_line, x_line) when its
// input line exists, or to ops.pad(col_line) when it falls in the padding. Output column o of a
// line reads input column o * stride + off_w of x_line, for o in w_range.
template <typename ColPtr, typename XPtr, typename MakeRow>
inline void for_each_line(const ConvShape& s, int64_t channels, ColPtr col, int64_t ld, XPtr x,
                          int64_t line0, int64_t line1, MakeRow make_row) {
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
          const auto ops = make_row(off_w, valid_range(off_w, s.stride[2], W, out[2]));
          ColPtr line = col + row * ld;
          for (int64_t od = line0 / out[1]; od * out[1] < line1; ++od) {
            const bool d_ok = od >= rd.lo && od < rd.hi;
            const int64_t id = od * s.stride[0] + off_d;
            const int64_t oh_end = std::min(out[1], line1 - od * out[1]);
            for (int64_t oh = std::max<int64_t>(0, line0 - od * out[1]); oh < oh_end;
                 ++oh, line += out[2]) {
              if (!d_ok || oh < rh.lo || oh >= rh.hi) {
                ops.pad(line);
                continue;
              }
              ops.line(line, xc + (id * H + oh * s.stride[1] + off_h) * W);
            }
          }
        }
      }
    }
  }
}

// Any stride and width: short runs of line_ops.
template <typename T>
struct GenericRow {
  int64_t ow, sw, off;
  ValidRange r;
  void line(T* col, const T* x) const {  // im2col
    line_ops::zero(col, r.lo);
    line_ops::copy(col + r.lo, x + r.lo * sw + off, r.hi - r.lo, sw);
    line_ops::zero(col + r.hi, ow - r.hi);
  }
  void pad(T* col) const { line_ops::zero(col, ow); }
  void line(const T* col, T* x) const {  // col2im
    line_ops::add(x + r.lo * sw + off, col + r.lo, r.hi - r.lo, sw);
  }
  void pad(const T*) const {}
};

#if defined(__AVX512F__)
// im2col / col2im rows through VectorRow: one masked load and one store per register.
template <typename T>
struct VectorLines : VectorRow<T> {
  using VectorRow<T>::VectorRow;
  using S = Simd<T>;
  void line(T* col, const T* x) const {  // im2col
    for (int64_t v = 0; v < this->nv; ++v)
      S::store(col + v * S::L, this->out[v], this->gather(x, v));
  }
  void pad(T* col) const {
    for (int64_t v = 0; v < this->nv; ++v)
      S::store(col + v * S::L, this->out[v], S::zero());
  }
  void line(const T* col, T* x) const {  // col2im
    for (int64_t v = 0; v < this->nv; ++v)
      this->scatter_add(x, v, S::load(this->valid[v], col + v * S::L));
  }
  void pad(const T*) const {}
};
#endif  // __AVX512F__

// Runs f with the row operations that suit s.
template <typename T, typename F>
inline void with_rows(const ConvShape& s, F f) {
  const int64_t ow = s.out_dim(2), sw = s.stride[2];
#if defined(__AVX512F__)
  if (VectorRow<T>::supports(ow, sw)) {
    const int64_t w = s.in[2];
    f([ow, w, sw](int64_t off, ValidRange r) { return VectorLines<T>(ow, w, sw, off, r); });
    return;
  }
#endif
  f([ow, sw](int64_t off, ValidRange r) { return GenericRow<T>{ow, sw, off, r}; });
}

}  // namespace

template <typename T>
void im2col(const ConvShape& s, int64_t channels, const T* x, T* col, int64_t ld, int64_t line0,
            int64_t line1) {
  if (line1 < 0) line1 = conv_out_lines(s);
  with_rows<T>(s, [&](auto make_row) {
    for_each_line<T*, const T*>(s, channels, col, ld, x, line0, line1, make_row);
  });
}

template <typename T>
void col2im_add(const ConvShape& s, int64_t channels, const T* col, int64_t ld, T* x, int64_t line0,
                int64_t line1) {
  if (line1 < 0) line1 = conv_out_lines(s);
  with_rows<T>(s, [&](auto make_row) {
    for_each_line<const T*, T*>(s, channels, col, ld, x, line0, line1, make_row);
  });
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
