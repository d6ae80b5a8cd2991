// The raw bytes of a tensor on any device, for "bit-identical" checks: == on values would let
// -0 equal +0 (and fail on NaN).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "nn/tensor.h"

namespace nsal::testing {

inline std::vector<uint8_t> bytes_of(const Tensor& t) {
  Tensor h = t.to(Device::cpu());
  const auto* p = static_cast<const uint8_t*>(h.raw());
  return std::vector<uint8_t>(p, p + h.nbytes());
}

// Index of the first element of a and b whose bits differ: -1 when none does, 0 when the sizes
// differ. For "bit-identical" checks that name the place instead of printing both vectors.
template <typename T>
int64_t first_bit_difference(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace nsal::testing
