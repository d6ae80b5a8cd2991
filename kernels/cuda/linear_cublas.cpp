// Linear layers and row-major GEMM on cuBLAS. cuBLAS is column-major: a row-major (m, n) matrix
// is the column-major (n, m) matrix of the same memory, so row-major C = op(A) op(B) is computed
// as column-major C^T = op(B)^T op(A)^T, i.e. with the operands swapped.
#include <climits>

#include "kernels/cuda/check.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::kernels::gpu {

namespace {

cublasComputeType_t compute_type(MathMode m) {
  switch (m) {
    case MathMode::tf32:
      return CUBLAS_COMPUTE_32F_FAST_TF32;
    case MathMode::bf16:
      return CUBLAS_COMPUTE_32F_FAST_16BF;
    case MathMode::strict_fp32:
      break;
  }
  return CUBLAS_COMPUTE_32F;  // IEEE fp32 FMA, no tensor-core rounding
}

int as_int(int64_t v, const char* what, const char* op) {
  NSAL_CHECK_AS(ShapeError, v >= 0 && v <= INT_MAX, "{}: {} = {} does not fit cuBLAS's int", op,
                what, v);
  return static_cast<int>(v);
}

// Row-major C (m, n) = alpha op(A) op(B) + beta C after the checks.
void gemm_rm(const GpuExec& ex, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
             const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
             int64_t ldc, const char* op) {
  GpuHandles& h = cuda::handles_of(ex, op);
  NSAL_CUBLAS_CHECK(cublasGemmEx(
      h.cublas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
      as_int(n, "n", op), as_int(m, "m", op), as_int(k, "k", op), &alpha, b, CUDA_R_32F,
      as_int(ldb, "ldb", op), a, CUDA_R_32F, as_int(lda, "lda", op), &beta, c, CUDA_R_32F,
      as_int(ldc, "ldc", op), compute_type(ex.math), CUBLAS_GEMM_DEFAULT));
}

void check_linear(int64_t n, int64_t in, int64_t out, const char* op) {
  cuda::check_positive(n, "N", op);
  cuda::check_positive(in, "in_features", op);
  cuda::check_positive(out, "out_features", op);
}

}  // namespace

void gemm(const GpuExec& ex, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc) {
  const char* op = "gemm";
  cuda::check_positive(m, "m", op);
  cuda::check_positive(n, "n", op);
  cuda::check_positive(k, "k", op);
  // Row-major leading dimensions: at least the stored row length.
  NSAL_CHECK_AS(ShapeError, lda >= (trans_a ? m : k) && ldb >= (trans_b ? k : n) && ldc >= n,
                "{}: leading dimensions too small (m={} n={} k={} lda={} ldb={} ldc={})", op, m, n,
                k, lda, ldb, ldc);
  cuda::check_device_ptr(a, "A", op);
  cuda::check_device_ptr(b, "B", op);
  cuda::check_device_ptr(c, "C", op);
  gemm_rm(ex, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, op);
}

void linear_forward(const GpuExec& ex, int64_t n, int64_t in, int64_t out, const float* x,
                    const float* w, const float* b, float* y) {
  const char* op = "linear_forward";
  check_linear(n, in, out, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(w, "w", op);
  cuda::check_device_ptr_or_null(b, "b", op);
  cuda::check_device_ptr(y, "y", op);
  // y (N, out) = x (N, in) w^T
  gemm_rm(ex, false, true, n, out, in, 1.f, x, in, w, in, 0.f, y, out, op);
  if (b) bias_add(ex, n, out, 1, b, y);
}

void linear_backward_data(const GpuExec& ex, int64_t n, int64_t in, int64_t out, const float* dy,
                          const float* w, float* dx) {
  const char* op = "linear_backward_data";
  check_linear(n, in, out, op);
  cuda::check_device_ptr(dy, "dy", op);
  cuda::check_device_ptr(w, "w", op);
  cuda::check_device_ptr(dx, "dx", op);
  // dx (N, in) = dy (N, out) w (out, in)
  gemm_rm(ex, false, false, n, in, out, 1.f, dy, out, w, in, 0.f, dx, in, op);
}

void linear_backward_weight(const GpuExec& ex, int64_t n, int64_t in, int64_t out, const float* x,
                            const float* dy, float* dw) {
  const char* op = "linear_backward_weight";
  check_linear(n, in, out, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(dy, "dy", op);
  cuda::check_device_ptr(dw, "dw", op);
  // dw (out, in) += dy^T (out, N) x (N, in)
  gemm_rm(ex, true, false, out, in, n, 1.f, dy, out, x, in, 1.f, dw, in, op);
}

void linear_backward_bias(const GpuExec& ex, int64_t n, int64_t out, const float* dy, float* db) {
  bias_grad(ex, n, out, 1, dy, db);
}

}  // namespace nsal::kernels::gpu
