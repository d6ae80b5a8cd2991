// im2col / col2im for 2D and 3D convolutions (a 2D shape is a 3D one of depth 1, see ConvShape),
// with stride, zero padding and dilation. Pointer-based; one sample, a run of channels at a time.
//
// Column matrix of `channels` input channels: rows (channel, kd, kh, kw) in that order, i.e.
// channels * s.kernel_size() rows; columns the output positions (od, oh, ow) in row-major order.
// The positions can be limited to the output lines [line0, line1), a line being one (od, oh) pair
// (OD * OH lines of OW positions); column j is then position line0 * OW + j. Row r starts at
// col + r * ld, so several samples can sit side by side in one wider matrix.
#pragma once

#include <cstdint>

#include "kernels/conv_shape.h"

namespace nsal::kernels::cpu {

// x: (channels, D, H, W) of one sample -> col (channels * kernel_size, (line1 - line0) * OW), row
// stride ld. Positions that fall in the padding read as zero. line1 = -1: up to the last line.
template <typename T>
void im2col(const ConvShape& s, int64_t channels, const T* x, T* col, int64_t ld, int64_t line0 = 0,
            int64_t line1 = -1);

// The adjoint of im2col: x (channels, D, H, W) += col2im(col) over the same positions.
// Contributions of padding positions are dropped. Zero x first for a plain col2im. The order of
// the additions is fixed.
template <typename T>
void col2im_add(const ConvShape& s, int64_t channels, const T* col, int64_t ld, T* x,
                int64_t line0 = 0, int64_t line1 = -1);

// Output lines (od, oh pairs) of s: s.out_dim(0) * s.out_dim(1).
inline int64_t conv_out_lines(const ConvShape& s) {
  return s.out_dim(0) * s.out_dim(1);
}

}  // namespace nsal::kernels::cpu
