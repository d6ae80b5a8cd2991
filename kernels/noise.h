// Parameter noise for noise-stability acquisition (DESIGN section 3), written once for the CPU
// and the GPU: element i of draw k depends only on (seed, k, i), and the host and the device
// produce the same bits.
//
// Stream layout. Elements come in groups of four consecutive arena indices. Group g = i / 4 of
// draw k is one Philox4x32-10 call with counter (g, k) (words: g lo, g hi, k lo, k hi) and key
// seed (words: seed lo, seed hi). That is exactly cuRAND's layout: curand_init(seed, k, 4 * g,
// &state) followed by four curand(&state) returns the same four words.
//   gaussian: words (0, 1) give elements 4g, 4g+1 and words (2, 3) give 4g+2, 4g+3 by
//             Box-Muller: the first word of a pair gives the radius, the second the angle,
//             element 4g+2p = r cos(theta), element 4g+2p+1 = r sin(theta).
//   uniform:  word e gives element 4g+e, uniform on (-1, 1) (odd multiples of 2^-24).
//   laplace:  word e gives element 4g+e, Laplace(0, 1): the top bit is the sign and the next
//             24 bits an exponential magnitude -log(u).
// Every uniform uses 24 bits of its word, so the conversions to float are exact. The gaussian
// tails are cut at 5.77 sigma (u >= 2^-24), the Laplace tails at 16.6.
//
// Bit-identity. glibc's logf/sinf/cosf and CUDA's differ in the last ulp, and compilers fuse
// a * b + c into an FMA on their own (nvcc always, GCC unless -ffp-contract=off). So this file
// uses its own log and sincos built from IEEE operations that round the same everywhere: +, *,
// /, sqrt, and explicit fma, called through the f_* helpers below (correctly rounded CUDA
// intrinsics on the device, which nvcc never fuses; plain operators on the host, where
// nsal_kernels builds with -ffp-contract=off). The accuracy is a few ulp, which is plenty for
// noise; what matters is that both sides compute the same function.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/float_bits.h"
#include "kernels/hd.h"
#include "kernels/philox.h"

// The CPU loops over groups vectorize only when the whole generator is inlined into them.
#if defined(__CUDACC__) || !defined(__GNUC__)
#define NSAL_NOISE_HD NSAL_HD
#else
#define NSAL_NOISE_HD inline __attribute__((always_inline))
#endif

namespace nsal::kernels {

enum class NoiseDist : uint8_t { gaussian, uniform, laplace };

namespace fp {

NSAL_NOISE_HD float mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
NSAL_NOISE_HD float add(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
NSAL_NOISE_HD float sub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
NSAL_NOISE_HD float div(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
NSAL_NOISE_HD float fma(float a, float b, float c) {
#ifdef __CUDA_ARCH__
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
NSAL_NOISE_HD float sqrt(float a) {
#ifdef __CUDA_ARCH__
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}
// bits() and from_bits(): kernels/float_bits.h.
// Exact for |v| < 2^24.
NSAL_NOISE_HD float int_to_float(int32_t v) {
#ifdef __CUDA_ARCH__
  return __int2float_rn(v);
#else
  return static_cast<float>(v);
#endif
}

// Natural log of v * 2^-24 for an integer v in [1, 2^24]: log(m) + e ln2 with m in
// [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.1716; the series
// stops at s^11 (truncation 5e-11 relative).
NSAL_NOISE_HD float log_u24(int32_t v) {
  uint32_t b = bits(int_to_float(v));  // exact
  int32_t e = static_cast<int32_t>(b >> 23) - 127;
  uint32_t mb = (b & 0x007fffffu) | 0x3f800000u;  // m in [1, 2)
  bool big = mb > 0x3fb504f3u;                    // m > sqrt(2): use m / 2 instead
  mb = big ? mb - 0x00800000u : mb;
  e = big ? e + 1 : e;
  float m = from_bits(mb);
  float f = sub(m, 1.0f);  // exact (Sterbenz)
  float s = div(f, add(2.0f, f));
  float z = mul(s, s);
  float p = fma(z, 0.09090909361839294f, 0.1111111119389534f);
  p = fma(p, z, 0.1428571492433548f);
  p = fma(p, z, 0.20000000298023224f);
  p = fma(p, z, 0.3333333432674408f);
  p = fma(p, z, 1.0f);
  float log_m = mul(add(s, s), p);
  float ef = int_to_float(e - 24);
  // ln2 split so that ef * ln2_hi is exact (ln2_hi has 16 significant bits, |ef| <= 24).
  return fma(ef, 0.693145751953125f, fma(ef, 1.428606765330187e-06f, log_m));
}

// cos and sin of 2 pi j / 2^24 for an integer j in [0, 2^24): the quadrant and the remainder
// r in [-1/8, 1/8) turn come from integer arithmetic (exact); Taylor polynomials in r to
// degree 9 (sin) and 10 (cos), truncation below 2e-9.
NSAL_NOISE_HD void sincos_turns_u24(int32_t j, float& c, float& s) {
  int32_t qn = (j + (1 << 21)) >> 22;  // nearest quarter turn, 0..4
  int32_t rr = j - (qn << 22);         // [-2^21, 2^21)
  int32_t q = qn & 3;
  float r = mul(int_to_float(rr), 5.9604644775390625e-08f);  // * 2^-24, exact
  float r2 = mul(r, r);
  float ps = fma(r2, 42.058692932128906f, -76.70585632324219f);
  ps = fma(ps, r2, 81.6052474975586f);
  ps = fma(ps, r2, -41.34170150756836f);
  ps = fma(ps, r2, 6.2831854820251465f);
  float sr = mul(ps, r);
  float pc = fma(r2, -26.42625617980957f, 60.2446403503418f);
  pc = fma(pc, r2, -85.45681762695312f);
  pc = fma(pc, r2, 64.93939208984375f);
  pc = fma(pc, r2, -19.739208221435547f);
  float cr = fma(pc, r2, 1.0f);
  // Rotate by q quarter turns.
  float cq = (q == 0) ? cr : (q == 1) ? -sr : (q == 2) ? -cr : sr;
  float sq = (q == 0) ? sr : (q == 1) ? cr : (q == 2) ? -sr : -cr;
  c = cq;
  s = sq;
}

}  // namespace fp

// The 24 high bits of a word as an integer in [0, 2^24).
NSAL_NOISE_HD int32_t top24(uint32_t w) {
  return static_cast<int32_t>(w >> 8);
}

// Uniform on (-1, 1): (2 m + 1 - 2^24) * 2^-24 for m in [0, 2^24), symmetric, mean exactly 0.
NSAL_NOISE_HD float uniform_pm1_from_word(uint32_t w) {
  int32_t k = 2 * top24(w) + 1 - (1 << 24);
  return fp::mul(fp::int_to_float(k), 5.9604644775390625e-08f);
}

// Laplace(0, 1): sign from bit 31, magnitude -log(u) with u = (bits 7..30 + 1) * 2^-24.
NSAL_NOISE_HD float laplace_from_word(uint32_t w) {
  int32_t v = static_cast<int32_t>((w >> 7) & 0x00ffffffu) + 1;
  float mag = -fp::log_u24(v);
  return (w >> 31) ? -mag : mag;
}

// Box-Muller from two words: (r cos theta, r sin theta), r = sqrt(-2 log u), u in (0, 1].
NSAL_NOISE_HD void gaussian_pair_from_words(uint32_t w_radius, uint32_t w_angle, float& z0,
                                            float& z1) {
  float l = fp::log_u24(top24(w_radius) + 1);
  float r = fp::sqrt(fp::mul(-2.0f, l));
  float c, s;
  fp::sincos_turns_u24(top24(w_angle), c, s);
  z0 = fp::mul(r, c);
  z1 = fp::mul(r, s);
}

// The four noise values of group g (arena elements 4g .. 4g+3) of draw `draw`, for a
// distribution fixed at compile time (loops over groups then vectorize on the CPU).
template <NoiseDist D>
NSAL_NOISE_HD void noise4_of(uint64_t seed, uint64_t draw, uint64_t group, float out[4]) {
  philox::U32x4 w =
      philox::philox4x32_10(philox::make_counter(group, draw), philox::make_key(seed));
  if (D == NoiseDist::gaussian) {
    gaussian_pair_from_words(w.v[0], w.v[1], out[0], out[1]);
    gaussian_pair_from_words(w.v[2], w.v[3], out[2], out[3]);
  } else if (D == NoiseDist::uniform) {  // written out: the CPU loops vectorize better
    out[0] = uniform_pm1_from_word(w.v[0]);
    out[1] = uniform_pm1_from_word(w.v[1]);
    out[2] = uniform_pm1_from_word(w.v[2]);
    out[3] = uniform_pm1_from_word(w.v[3]);
  } else {
    out[0] = laplace_from_word(w.v[0]);
    out[1] = laplace_from_word(w.v[1]);
    out[2] = laplace_from_word(w.v[2]);
    out[3] = laplace_from_word(w.v[3]);
  }
}

NSAL_HD void noise4(uint64_t seed, uint64_t draw, uint64_t group, NoiseDist dist, float out[4]) {
  switch (dist) {
    case NoiseDist::gaussian:
      noise4_of<NoiseDist::gaussian>(seed, draw, group, out);
      break;
    case NoiseDist::uniform:
      noise4_of<NoiseDist::uniform>(seed, draw, group, out);
      break;
    case NoiseDist::laplace:
      noise4_of<NoiseDist::laplace>(seed, draw, group, out);
      break;
  }
}

// One element (convenient for references; kernels call noise4 once per group).
NSAL_HD float noise_at(uint64_t seed, uint64_t draw, uint64_t index, NoiseDist dist) {
  float z[4];
  noise4(seed, draw, index / 4, dist, z);
  return z[index % 4];
}

// The perturbation of one weight and its check, shared by perturb and restore: d = scale * z
// (rounded), perturbed = w + d, and (perturbed - d) is what restore computes. When it does
// not give w back bit for bit (tiny w, ties, a binade crossed, -0, NaN), w goes to the log.
// A NaN sum is written as the one NaN 0x7fffffff: x86 keeps an operand's NaN payload (and makes
// inf + -inf 0xffc00000) where the GPU always gives 0x7fffffff, so without it the backends would
// write different bits and log different weights.
NSAL_HD float noise_delta(float scale, float z) {
  return fp::mul(scale, z);
}
NSAL_HD float apply_delta(float w, float d) {
  const float p = fp::add(w, d);
  return p != p ? fp::from_bits(0x7fffffffu) : p;
}
NSAL_HD float remove_delta(float p, float d) {
  return fp::sub(p, d);
}
NSAL_HD bool delta_round_trips(float w, float d) {
  return fp::bits(remove_delta(apply_delta(w, d), d)) == fp::bits(w);
}

const char* noise_dist_name(NoiseDist d);
// "gaussian", "uniform", "laplace"; throws nsal::Error naming the valid choices otherwise.
NoiseDist parse_noise_dist(const char* name);

}  // namespace nsal::kernels
