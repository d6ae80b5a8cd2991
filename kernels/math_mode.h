// Precision of the GPU math. Acquisition defaults to strict fp32 (DESIGN section 4): the signal
// in a noise-stability score is about lambda (1e-3) relative to the output, the size of TF32 and
// bf16 rounding, so lower precisions are options whose effect is measured, never a default.
#pragma once

#include <cstdint>

namespace nsal {

enum class MathMode : uint8_t {
  strict_fp32,  // IEEE fp32 FMA: no tensor-core TF32 in cuBLAS or cuDNN
  tf32,         // tensor cores with TF32 inputs in GEMMs and convolutions
  bf16,         // GEMMs with bf16 inputs (fp32 accumulate); convolutions as tf32 on the layer
                // path, in bf16 channels-last on the fused inference path (nn/fuse.h)
};

inline const char* math_mode_name(MathMode m) {
  switch (m) {
    case MathMode::strict_fp32:
      return "fp32";
    case MathMode::tf32:
      return "tf32";
    case MathMode::bf16:
      return "bf16";
  }
  return "?";
}

}  // namespace nsal
