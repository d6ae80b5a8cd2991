// bfloat16 as storage: the upper 16 bits of an IEEE float32 (1 sign, 8 exponent, 7 mantissa
// bits). Conversions are written once (NSAL_HD) for the CPU loops and the CUDA kernels, so both
// backends round every value to the same bits. Rounding is to nearest, ties to even, as
// __float2bfloat16_rn and PyTorch's .to(torch.bfloat16) do for finite values (those too large for
// bf16 become infinities). Every NaN becomes the one NaN 0x7fc0: the GPU's float arithmetic
// replaces NaN payloads with its own (0x7fffffff) where x86 keeps them, so a payload-preserving
// rule would give the backends different bits.
#pragma once

#include <cstdint>

#include "kernels/float_bits.h"
#include "kernels/hd.h"

namespace nsal::kernels {

// float32 -> bfloat16 bits, round to nearest even.
NSAL_HD uint16_t to_bf16(float v) {
  const uint32_t u = fp::bits(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;  // NaN
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

// bfloat16 bits -> float32 (exact).
NSAL_HD float from_bf16(uint16_t b) {
  return fp::from_bits(static_cast<uint32_t>(b) << 16);
}

// v rounded to the nearest bfloat16, as a float32.
NSAL_HD float round_bf16(float v) {
  return from_bf16(to_bf16(v));
}

}  // namespace nsal::kernels
