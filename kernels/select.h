// Selection for acquisition: top-N by score and greedy k-center (DESIGN section 3), CPU and
// CUDA behind one host API. Data pointers (scores, features) live on the CPU or on the current
// CUDA device (on_cuda); index arrays are always host memory. Both are deterministic, and the
// CPU and the GPU select the same indices.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nsal::kernels {

// The indices of the k largest scores, best first; equal scores go to the lower index first;
// NaN is never selected. Writes min(k, number of non-NaN scores) indices to out_idx (host) and
// returns that number. The CUDA path sorts with Thrust (which allocates its own scratch).
int64_t top_n(const float* score, int64_t n, int64_t k, int64_t* out_idx, bool on_cuda = false,
              void* stream = nullptr);

// Greedy k-center over the rows of x (N, D), row-major. The first centres are the rows listed in
// `initial` (host, n_init of them: CoreSet's labelled set) or, when n_init == 0, the origin (the
// `released` noise-stability preset). Then `budget` times: select the row whose squared
// Euclidean distance to its nearest centre is largest (ties: lower index), and make it a
// centre. Initial and selected rows are never selected again. Writes the budget indices, in
// selection order, to out_idx (host).
//
// Memory: one min-distance vector (N doubles), never an N x N matrix. Distances are computed
// in double in a fixed order (32 lane partials over D, then a fixed tree), the same on the CPU
// and the GPU, so both select the same rows. The CUDA path needs a device workspace of
// kcenter_workspace_bytes(n, n_init, budget) bytes. Throws when x holds a non-finite value or
// budget exceeds the rows left.
size_t kcenter_workspace_bytes(int64_t n, int64_t n_init, int64_t budget);
void kcenter_greedy(const float* x, int64_t n, int64_t d, const int64_t* initial, int64_t n_init,
                    int64_t budget, int64_t* out_idx, bool on_cuda = false,
                    void* workspace = nullptr, size_t workspace_bytes = 0, void* stream = nullptr);

}  // namespace nsal::kernels
