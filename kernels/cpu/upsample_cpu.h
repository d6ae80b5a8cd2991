// Bilinear 2d upsampling (align_corners=False) on the CPU over planes of (H, W) -> (OH, OW).
// scale_h / scale_w: the user's scale factors, or <= 0 when an output size was given.
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

template <typename T>
void upsample_bilinear2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                 int64_t OW, double scale_h, double scale_w, T* y);
// dx is overwritten with the adjoint (each output gradient spread to its four taps).
template <typename T>
void upsample_bilinear2d_backward(const T* dy, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                  int64_t OW, double scale_h, double scale_w, T* dx);

}  // namespace nsal::kernels::cpu
