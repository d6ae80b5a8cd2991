// Backend entry points behind kernels/select.h (arguments already checked).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nsal::kernels {

int64_t top_n_cpu(const float* score, int64_t n, int64_t k, int64_t* out_idx);
void kcenter_greedy_cpu(const float* x, int64_t n, int64_t d, const int64_t* initial,
                        int64_t n_init, int64_t budget, int64_t* out_idx);

int64_t top_n_cuda(const float* score, int64_t n, int64_t k, int64_t* out_idx, void* stream);
void kcenter_greedy_cuda(const float* x, int64_t n, int64_t d, const int64_t* initial,
                         int64_t n_init, int64_t budget, int64_t* out_idx, void* workspace,
                         size_t workspace_bytes, void* stream);

}  // namespace nsal::kernels
