// Arithmetic for laying out the scratch of the convolution paths (conv_cpu.cpp,
// conv_winograd.cpp): every block starts on a cache line.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nsal::kernels::cpu {

constexpr size_t kScratchAlign = 64;  // bytes

inline size_t align_up(size_t bytes) {
  return (bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
}

inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace nsal::kernels::cpu
