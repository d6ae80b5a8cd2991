// Element-wise sums and channel concatenation on the CPU (residual connections, skip joins).
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

template <typename T>
void add(const T* a, const T* b, T* y, int64_t n);  // y = a + b
template <typename T>
void accumulate(T* y, const T* x, int64_t n);  // y += x

// Copies src (N, c_src, S) into channels [c_offset, c_offset + c_src) of dst (N, c_dst, S).
template <typename T>
void copy_channels_in(const T* src, int64_t N, int64_t c_src, int64_t S, T* dst, int64_t c_dst,
                      int64_t c_offset);
// The reverse: channels [c_offset, c_offset + c_dst) of src (N, c_src, S) into dst (N, c_dst, S).
template <typename T>
void copy_channels_out(const T* src, int64_t N, int64_t c_src, int64_t S, T* dst, int64_t c_dst,
                       int64_t c_offset);

}  // namespace nsal::kernels::cpu
