// Row-major GEMM through CBLAS for float and double: C = A' B' + beta C, where A' is A or its
// transpose (ta) and B' is B or its transpose (tb).
//
// Every call runs on the calling thread alone. OpenBLAS's OpenMP build splits a GEMM over
// OpenMP's thread count when called outside a parallel region, and both how it cuts the inner
// dimension and how it shares out rows and columns change the rounding with that count (a K of
// 450 on 1 and 2 threads: most elements differ in the last bits). nsal's kernels share out their
// own work instead, in pieces fixed by the shape, so that results do not depend on the thread
// count: inside an active parallel region OpenBLAS keeps to one thread by itself; outside one,
// OpenMP's count is set to 1 for the call.
#pragma once

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace nsal::kernels::cpu {

// OpenMP's thread count at 1 for the scope, unless already inside an active parallel region
// (where OpenBLAS runs on the calling thread anyway).
class OneBlasThread {
 public:
  OneBlasThread() : keep_(omp_in_parallel() ? 0 : omp_get_max_threads()) {
    if (keep_ > 1) omp_set_num_threads(1);
  }
  ~OneBlasThread() {
    if (keep_ > 1) omp_set_num_threads(keep_);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  int keep_;
};

inline void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  OneBlasThread one;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

inline void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a,
                      int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                      int64_t ldc) {
  OneBlasThread one;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

// blas_gemm over a grid of tiles of C that depends on (m, n, k) alone, the threads sharing out
// the tiles (each a single-threaded call): a GEMM large enough for threads, with the same bits on
// any thread count. Rows and columns are cut at multiples of 64, whole register tiles of BLAS.
template <typename T>
void tiled_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  constexpr int64_t kAlign = 64, kMaxTiles = 16, kMinColsPerTile = 256;
  int64_t tiles_n = 1, tiles_m = 1;
  if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >= 4e6) {
    tiles_n = std::max<int64_t>(1, std::min<int64_t>(kMaxTiles, n / kMinColsPerTile));
    tiles_m = std::max<int64_t>(1, std::min<int64_t>(kMaxTiles / tiles_n, m / kAlign));
  }
  const auto cut = [&](int64_t extent, int64_t& tiles) {
    const int64_t per = (extent + tiles - 1) / tiles;
    const int64_t size = (per + kAlign - 1) / kAlign * kAlign;
    tiles = (extent + size - 1) / size;
    return size;
  };
  const int64_t rm = cut(m, tiles_m), rn = cut(n, tiles_n), tiles = tiles_m * tiles_n;
#pragma omp parallel for schedule(dynamic, 1) if (tiles > 1 && !omp_in_parallel())
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i0 = t / tiles_n * rm, j0 = t % tiles_n * rn;
    const int64_t mm = std::min(rm, m - i0), nn = std::min(rn, n - j0);
    blas_gemm(ta, tb, mm, nn, k, ta ? a + i0 : a + i0 * lda, lda, tb ? b + j0 * ldb : b + j0, ldb,
              beta, c + i0 * ldc + j0, ldc);
  }
}

}  // namespace nsal::kernels::cpu
