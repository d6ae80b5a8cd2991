// Host-side argument checks shared by the GPU ops: they throw before anything is queued, naming
// the op and the argument, so a host pointer or a bad size never becomes an illegal-address
// fault far from its cause.
#pragma once

#include <cstdint>

#include "kernels/error.h"

namespace nsal::cuda {

// Throws CudaError unless p is device (or managed) memory. Cheap host query, no synchronisation.
void check_device_ptr(const void* p, const char* arg, const char* op);
// Same, but null is allowed (optional inputs).
inline void check_device_ptr_or_null(const void* p, const char* arg, const char* op) {
  if (p) check_device_ptr(p, arg, op);
}

inline void check_positive(int64_t v, const char* what, const char* op) {
  NSAL_CHECK_AS(ShapeError, v > 0, "{}: {} must be positive, got {}", op, what, v);
}
inline void check_non_negative(int64_t v, const char* what, const char* op) {
  NSAL_CHECK_AS(ShapeError, v >= 0, "{}: {} must be non-negative, got {}", op, what, v);
}

}  // namespace nsal::cuda
