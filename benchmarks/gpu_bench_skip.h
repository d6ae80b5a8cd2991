// The GPU benchmarks' common start: a printed, successful skip when the CUDA backend is not
// compiled or no device answers (so a CPU-only run of all benchmarks stays green).
#pragma once

#include <cstdio>

#include "kernels/memory.h"

namespace nsal::bench {

// True when `name` can run; otherwise prints why it is skipped.
inline bool gpu_available(const char* name) {
  if (!kernels::cuda_compiled()) {
    std::printf("%s: skipped: nsal was built without the CUDA backend\n", name);
    return false;
  }
  if (kernels::cuda_device_count() == 0) {
    std::printf("%s: skipped: no CUDA device answers (%s)\n", name,
                kernels::cuda_unavailable_reason());
    return false;
  }
  return true;
}

}  // namespace nsal::bench
