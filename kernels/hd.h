// NSAL_HD marks per-element functions written once and called from both the CPU backend and
// CUDA kernels (DESIGN section 7): the CPU build tests the same logic that the GPU runs.
#pragma once

#ifdef __CUDACC__
#define NSAL_HD __host__ __device__ __forceinline__
#else
#define NSAL_HD inline
#endif
