#include "nn/context.h"

#include <omp.h>

namespace nsal {

Context::Context(Device device) : device_(device), threads_(omp_get_max_threads()) {}

void* Context::workspace(size_t bytes) {
  if (bytes > workspace_.capacity_bytes() || workspace_.device() != device_ || !workspace_.raw()) {
    // Grow by half again so that a slowly growing request does not reallocate every time.
    size_t grow = bytes + bytes / 2;
    workspace_.resize({static_cast<int64_t>(grow)}, DType::u8, device_, "workspace");
  }
  return workspace_.raw();
}

void Context::set_threads(int n) {
  NSAL_CHECK(n >= 1, "threads: expected at least 1, got {}", n);
  threads_ = n;
  omp_set_num_threads(n);
}

}  // namespace nsal
