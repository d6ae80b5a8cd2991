#include "kernels/memory.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/error.h"

namespace nsal::kernels {

namespace {
std::atomic<size_t> g_allocation_limit{0};
std::atomic<int64_t> g_descriptor_element_limit{0};
}  // namespace

void set_allocation_limit(size_t bytes) {
  g_allocation_limit.store(bytes);
}
size_t allocation_limit() {
  return g_allocation_limit.load();
}

void set_descriptor_element_limit(int64_t elements) {
  g_descriptor_element_limit.store(elements > 0 ? elements : 0);
}
int64_t descriptor_element_limit() {
  const int64_t v = g_descriptor_element_limit.load();
  return v > 0 ? std::min<int64_t>(v, INT32_MAX) : INT32_MAX;
}

void* host_alloc(size_t bytes, const char* what) {
  if (bytes == 0) return nullptr;
  const size_t limit = allocation_limit();
  size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  void* p = limit > 0 && bytes > limit ? nullptr : std::aligned_alloc(kHostAlignment, rounded);
  if (p == nullptr)
    throw OutOfMemoryError(
        fmt::format("out of host memory allocating {} ({:.1f} MiB){}", what, bytes / 1048576.0,
                    limit > 0 && bytes > limit ? fmt::format(" (allocation limit {} bytes)", limit)
                                               : std::string()));
  return p;
}

void host_free(void* p) noexcept {
  std::free(p);
}

#ifndef NSAL_WITH_CUDA
// Host-only build: the CUDA entry points exist and say why they cannot work.
bool cuda_compiled() {
  return false;
}
int cuda_device_count() {
  return 0;
}
const char* cuda_unavailable_reason() {
  return "nsal was built without the CUDA backend";
}
void* cuda_alloc(size_t, int, const char* what) {
  throw Error(
      fmt::format("cannot allocate {} on a CUDA device: nsal was built without CUDA", what));
}
void cuda_free(void*) noexcept {}
void copy_bytes(void* dst, bool dst_on_cuda, const void* src, bool src_on_cuda, size_t bytes) {
  NSAL_CHECK(!dst_on_cuda && !src_on_cuda, "copy to or from CUDA memory: built without CUDA");
  if (bytes) std::memcpy(dst, src, bytes);
}
void zero_bytes(void* p, bool on_cuda, size_t bytes) {
  NSAL_CHECK(!on_cuda, "zeroing CUDA memory: nsal was built without CUDA");
  if (bytes) std::memset(p, 0, bytes);
}
#endif

}  // namespace nsal::kernels
