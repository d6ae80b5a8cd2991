// Raw memory on the host and on CUDA devices: allocation, copies and zeroing. Tensor storage
// (nn/tensor.h) is built on these; kernels never allocate on their own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nsal::kernels {

constexpr size_t kHostAlignment = 64;  // bytes: one cache line, enough for AVX-512 loads

// Throws OutOfMemoryError naming `what` when the allocation fails.
void* host_alloc(size_t bytes, const char* what = "host memory");
void host_free(void* p) noexcept;

// Fault injection for tests of the out-of-memory paths: while a limit is set (bytes > 0), every
// host or device allocation larger than it fails with OutOfMemoryError as if memory had run
// out. 0 lifts the limit. Process-wide.
void set_allocation_limit(size_t bytes);
size_t allocation_limit();

// The most elements one tensor of a cuDNN call may have (its descriptors index with 32-bit
// integers): 2^31 - 1. A larger tensor is a BatchTooLargeError. Tests lower it to exercise the
// batch splitting; 0 restores the default. Process-wide.
void set_descriptor_element_limit(int64_t elements);
int64_t descriptor_element_limit();

// True when this build contains the CUDA backend.
bool cuda_compiled();
// Number of CUDA devices that answer; 0 when none does or the backend is not compiled.
int cuda_device_count();
// One line naming the reason cuda_device_count() is 0 ("" when a device answers).
const char* cuda_unavailable_reason();

// `what` names the allocation in the out-of-memory error ("parameter arena", "activations").
void* cuda_alloc(size_t bytes, int device, const char* what);
void cuda_free(void* p) noexcept;

// Copies between any two of host and device memory with cudaMemcpy on the legacy default stream,
// which is ordered with the contexts' (blocking) streams: the copy starts after the work queued
// before it and later work sees its result. The host side is safe to reuse on return; a
// device-to-device copy may still be running then (its result is ordered, not waited for).
void copy_bytes(void* dst, bool dst_on_cuda, const void* src, bool src_on_cuda, size_t bytes);
void zero_bytes(void* p, bool on_cuda, size_t bytes);

}  // namespace nsal::kernels
