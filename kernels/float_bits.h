// The bits of a float32 and back, written once for host and device code (the noise kernels'
// exact-restore checks, bfloat16 rounding). Always inlined on the host so that loops calling
// them still vectorize.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/hd.h"

#if defined(__CUDACC__) || !defined(__GNUC__)
#define NSAL_BITS_HD NSAL_HD
#else
#define NSAL_BITS_HD inline __attribute__((always_inline))
#endif

namespace nsal::kernels::fp {

NSAL_BITS_HD uint32_t bits(float x) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

NSAL_BITS_HD float from_bits(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

}  // namespace nsal::kernels::fp
