// The raw bytes of a tensor on any device, for "bit-identical" checks: == on values would let
// -0 equal +0 (and fail on NaN).
#pragma once

#include <cstdint>
#include <vector>

#include "nn/tensor.h"

namespace nsal::testing {

inline std::vector<uint8_t> bytes_of(const Tensor& t) {
  Tensor h = t.to(Device::cpu());
  const auto* p = static_cast<const uint8_t*>(h.raw());
  return std::vector<uint8_t>(p, p + h.nbytes());
}

}  // namespace nsal::testing
