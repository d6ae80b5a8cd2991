// The GPU backend's host API: pointer-based ops on fp32 device memory, queued on the stream of a
// GpuExec (kernels/gpu_exec.h). Declared in every build; in a build without CUDA each op throws
// CudaError naming itself (check kernels::cuda_compiled() first).
//
// Conventions
// - Layouts are PyTorch's: activations (N, C, H, W) / (N, C, D, H, W), conv weights OIHW / OIDHW,
//   linear weights (out, in), all contiguous. "S" is the product of the spatial extents.
// - Outputs and input gradients are overwritten (beta = 0); parameter gradients (dw, db, dgamma,
//   dbeta) are ACCUMULATED (beta = 1), matching Layer::backward's contract.
// - Host-side checks: sizes, null pointers and pointers that are not device memory throw
//   ShapeError / CudaError naming the op before anything is queued.
// - Steady state: no op allocates device memory or synchronises with the host; scratch memory
//   comes from ex.workspace, and per-shape cuDNN setup is cached after the first call. Scalar
//   results (losses, sums) are written to device memory; read them after gpu_synchronize().
// - Deterministic: every reduction here has a fixed order (no atomics); cuDNN convolution and
//   max-pool backward are deterministic when ex.deterministic is set.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/conv_params.h"
#include "kernels/gpu_exec.h"
#include "kernels/optim.h"

#ifdef NSAL_WITH_CUDA
#define NSAL_GPU_FN
#define NSAL_GPU_BODY
#else
#define NSAL_GPU_FN inline
#define NSAL_GPU_BODY \
  { ::nsal::kernels::throw_cuda_not_compiled(__func__); }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif

namespace nsal::kernels::gpu {

// ---- Convolution (cuDNN; kernels/cuda/conv_cudnn.cpp) ------------------------------------------
// Algorithms come from cuDNN's heuristics (a reproducible choice), once per (shape, math mode,
// deterministic flag), restricted to those whose workspace fits; strict fp32 uses FMA math only.

// y = conv(x, w) (+ bias[c] when bias is not null).   x (N, C_in, ...), y (N, C_out, ...)
NSAL_GPU_FN void conv_forward(const GpuExec& ex, const ConvParams& p, const float* x,
                              const float* w, const float* bias, float* y) NSAL_GPU_BODY;
// dx = conv_transpose(dy, w) (overwritten).
NSAL_GPU_FN void conv_backward_data(const GpuExec& ex, const ConvParams& p, const float* dy,
                                    const float* w, float* dx) NSAL_GPU_BODY;
// dw += grad of w (accumulated).
NSAL_GPU_FN void conv_backward_filter(const GpuExec& ex, const ConvParams& p, const float* x,
                                      const float* dy, float* dw) NSAL_GPU_BODY;
// db[c] += sum over N and space of dy[:, c] (accumulated, fixed order).
NSAL_GPU_FN void conv_backward_bias(const GpuExec& ex, const ConvParams& p, const float* dy,
                                    float* db) NSAL_GPU_BODY;
// Inference fast path: y = act(conv(x, w) + alpha2 z + bias), act = ReLU or identity, z null or
// a residual input shaped like y (it may be y itself). Runs
// cudnnConvolutionBiasActivationForward and returns true; where cuDNN does not support the
// fusion for this shape it runs the unfused reference path (conv_forward, axpy, relu_forward)
// and returns false.
NSAL_GPU_FN bool conv_bias_act_forward(const GpuExec& ex, const ConvParams& p, const float* x,
                                       const float* w, const float* bias, const float* z,
                                       float alpha2, bool relu, float* y) NSAL_GPU_BODY;
// The same computation, always unfused (the reference the fused path is tested against).
NSAL_GPU_FN
void conv_bias_act_forward_unfused(const GpuExec& ex, const ConvParams& p, const float* x,
                                   const float* w, const float* bias, const float* z, float alpha2,
                                   bool relu, float* y) NSAL_GPU_BODY;
// The algorithms chosen for p under ex's settings, e.g. "fwd IMPLICIT_PRECOMP_GEMM (fma, 0 B)";
// chooses them if not done yet. For logs and benchmark tables.
NSAL_GPU_FN std::string conv_algorithms(const GpuExec& ex, const ConvParams& p) NSAL_GPU_BODY;

// ---- bf16 channels-last inference (conv_cudnn.cpp, channels_last.cu) ------------------------
// Tensors hold bfloat16 bits (kernels/bf16.h) in channels-last order: activations (N, S, C),
// weights (O, K, I) (cuDNN's NHWC / NDHWC and KRSC). The per-element rules and their CPU
// references: kernels/channels_last.h, kernels/cpu/channels_last_cpu.h.

// y = act(conv(x, w) + z + bias) with fp32 accumulation, rounded to bf16; x (N, S_in, C_in),
// w (C_out, K, C_in / groups), bias (C_out,), z null or shaped like y (N, S_out, C_out), never y
// itself. Runs cudnnConvolutionBiasActivationForward on tensor cores and returns true; where
// cuDNN does not support that fusion for the shape, runs the convolution into y (rounded) and
// then bias_residual_act_channels_last_bf16, and returns false.
NSAL_GPU_FN bool conv_bias_act_forward_bf16(const GpuExec& ex, const ConvParams& p,
                                            const uint16_t* x, const uint16_t* w,
                                            const uint16_t* bias, const uint16_t* z, bool relu,
                                            uint16_t* y) NSAL_GPU_BODY;
// y (N, S, C) bf16 = x (N, C, S) float32 rounded; with n = O, c = I, s = K it turns conv weights
// (O, I, K) into (O, K, I).
NSAL_GPU_FN void to_channels_last_bf16(const GpuExec& ex, const float* x, int64_t n, int64_t c,
                                       int64_t s, uint16_t* y) NSAL_GPU_BODY;
// In place on y (N, S, C) bf16: y = act(y + residual + bias) rounded again; residual null or
// like y, bias (C,) bf16.
NSAL_GPU_FN void bias_residual_act_channels_last_bf16(const GpuExec& ex, uint16_t* y,
                                                      const uint16_t* residual,
                                                      const uint16_t* bias, bool relu, int64_t n,
                                                      int64_t c, int64_t s) NSAL_GPU_BODY;
// y (N, C) float32 = mean over S of x (N, S, C) bf16 (double sums in the order of S).
NSAL_GPU_FN void global_avg_pool_channels_last_bf16(const GpuExec& ex, const uint16_t* x, int64_t n,
                                                    int64_t s, int64_t c, float* y) NSAL_GPU_BODY;

// Folds an inference BatchNorm into the conv before it (kernels/bn_fold.h), on device memory.
// w (C_out, per_channel), conv_bias (C_out,) or null; w_out may alias w.
NSAL_GPU_FN
void bn_fold(const GpuExec& ex, int64_t c_out, int64_t per_channel, const float* w,
             const float* conv_bias, const float* gamma, const float* beta, const float* mean,
             const float* var, double eps, float* w_out, float* b_out) NSAL_GPU_BODY;

// ---- BatchNorm, spatial (cuDNN; kernels/cuda/batchnorm_cudnn.cpp) --------------------------
// x, y, dx, dy: (N, C, S); gamma, beta, running stats, saved stats: (C,).
// Training: normalises with the batch mean and biased variance; the running statistics are
// updated as running = (1 - momentum) running + momentum batch, with the UNBIASED batch
// variance (N S / (N S - 1)) for running_var, as PyTorch does. running_mean/var may both be
// null (no tracking). save_mean / save_invstd receive the batch mean and 1 / sqrt(biased var +
// eps) for backward.
NSAL_GPU_FN
void batchnorm_forward_train(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                             const float* gamma, const float* beta, double momentum, double eps,
                             float* running_mean, float* running_var, float* save_mean,
                             float* save_invstd, float* y) NSAL_GPU_BODY;
// Evaluation: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta.
NSAL_GPU_FN
void batchnorm_forward_eval(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                            const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, double eps, float* y) NSAL_GPU_BODY;
// Backward of the training forward: dx overwritten, dgamma and dbeta accumulated.
NSAL_GPU_FN
void batchnorm_backward(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                        const float* dy, const float* gamma, const float* save_mean,
                        const float* save_invstd, double eps, float* dx, float* dgamma,
                        float* dbeta) NSAL_GPU_BODY;

// Backward of batchnorm_forward_eval (fixed statistics; own kernel,
// kernels/cuda/batchnorm_eval.cu): dx = dy gamma invstd (overwritten), dgamma += sum dy (x - mean)
// invstd and dbeta += sum dy per channel (accumulated, summed in double in a fixed order), invstd =
// 1 / sqrt(running_var + eps). gamma null means 1; dx, dgamma and dbeta may each be null (not
// computed).
NSAL_GPU_FN
void batchnorm_backward_eval(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                             const float* dy, const float* gamma, const float* running_mean,
                             const float* running_var, double eps, float* dx, float* dgamma,
                             float* dbeta) NSAL_GPU_BODY;

// ---- Pooling (cuDNN; kernels/cuda/pool_cudnn.cpp) ------------------------------------------
NSAL_GPU_FN void pool_forward(const GpuExec& ex, const PoolParams& p, const float* x,
                              float* y) NSAL_GPU_BODY;
// dx overwritten; needs the forward's x and y.
NSAL_GPU_FN void pool_backward(const GpuExec& ex, const PoolParams& p, const float* x,
                               const float* y, const float* dy, float* dx) NSAL_GPU_BODY;
// Global average pool (own kernel): x (N, C, S) -> y (N, C);
// backward dx[n, c, :] = dy[n, c] / S.
NSAL_GPU_FN void global_avg_pool_forward(const GpuExec& ex, int64_t n, int64_t c, int64_t s,
                                         const float* x, float* y) NSAL_GPU_BODY;
NSAL_GPU_FN void global_avg_pool_backward(const GpuExec& ex, int64_t n, int64_t c, int64_t s,
                                          const float* dy, float* dx) NSAL_GPU_BODY;

// ---- Linear and GEMM (cuBLAS; kernels/cuda/linear_cublas.cpp) ------------------------------
// Row-major, PyTorch layout: x (N, in), w (out, in), b (out,) or null, y (N, out) = x w^T + b.
// The compute type follows ex.math: fp32, TF32 tensor cores, or bf16 inputs with fp32 sums.
NSAL_GPU_FN
void linear_forward(const GpuExec& ex, int64_t n, int64_t in, int64_t out, const float* x,
                    const float* w, const float* b, float* y) NSAL_GPU_BODY;
// dx (N, in) = dy w (overwritten).
NSAL_GPU_FN void linear_backward_data(const GpuExec& ex, int64_t n, int64_t in, int64_t out,
                                      const float* dy, const float* w, float* dx) NSAL_GPU_BODY;
// dw (out, in) += dy^T x.
NSAL_GPU_FN
void linear_backward_weight(const GpuExec& ex, int64_t n, int64_t in, int64_t out, const float* x,
                            const float* dy, float* dw) NSAL_GPU_BODY;
// db (out,) += sum over N of dy.
NSAL_GPU_FN void linear_backward_bias(const GpuExec& ex, int64_t n, int64_t out, const float* dy,
                                      float* db) NSAL_GPU_BODY;
// Row-major C (m, n) = alpha op(A) op(B) + beta C, op(A) (m, k), op(B) (k, n).
NSAL_GPU_FN void gemm(const GpuExec& ex, bool trans_a, bool trans_b, int64_t m, int64_t n,
                      int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                      int64_t ldb, float beta, float* c, int64_t ldc) NSAL_GPU_BODY;

// ---- Elementwise (own kernels; kernels/cuda/elementwise.cu) --------------------------------
NSAL_GPU_FN void fill(const GpuExec& ex, float* p, int64_t n, float value) NSAL_GPU_BODY;
// p *= a
NSAL_GPU_FN void scale(const GpuExec& ex, float* p, int64_t n, float a) NSAL_GPU_BODY;
// y += a x
NSAL_GPU_FN
void axpy(const GpuExec& ex, int64_t n, float a, const float* x, float* y) NSAL_GPU_BODY;
// p += value (e.g. BatchNorm's num_batches_tracked, kept on the device).
NSAL_GPU_FN
void add_scalar(const GpuExec& ex, float* p, int64_t n, float value) NSAL_GPU_BODY;
// Device-to-device copy of `bytes` queued on ex's stream (ordered with the ops, capturable in a
// CUDA graph; Tensor::copy_from copies on the legacy stream, which a capture rejects).
NSAL_GPU_FN
void copy(const GpuExec& ex, void* dst, const void* src, size_t bytes) NSAL_GPU_BODY;
// y = a + b (residual add; y may alias a or b).
NSAL_GPU_FN
void add(const GpuExec& ex, int64_t n, const float* a, const float* b, float* y) NSAL_GPU_BODY;
// y = max(x, 0) (NaN stays NaN); backward dx = 0 where y <= 0, else dy (y: the forward output;
// dx may alias dy).
NSAL_GPU_FN void relu_forward(const GpuExec& ex, int64_t n, const float* x, float* y) NSAL_GPU_BODY;
NSAL_GPU_FN void relu_backward(const GpuExec& ex, int64_t n, const float* y, const float* dy,
                               float* dx) NSAL_GPU_BODY;
// y = min(max(x, 0), 6); backward dx = 0 where y <= 0 or y >= 6, else dy (PyTorch's
// hardtanh_backward).
NSAL_GPU_FN void relu6_forward(const GpuExec& ex, int64_t n, const float* x,
                               float* y) NSAL_GPU_BODY;
NSAL_GPU_FN void relu6_backward(const GpuExec& ex, int64_t n, const float* y, const float* dy,
                                float* dx) NSAL_GPU_BODY;
// y[n, c, s] += bias[c]   (y: (N, C, S))
NSAL_GPU_FN void bias_add(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* bias,
                          float* y) NSAL_GPU_BODY;

// ---- Deterministic reductions (kernels/cuda/reduce.cu) -------------------------------------
// Sums in double with an order fixed by n alone (not by the GPU or the launch), result on the
// device.
NSAL_GPU_FN
void sum(const GpuExec& ex, const float* x, int64_t n, double* out) NSAL_GPU_BODY;
NSAL_GPU_FN void sum_squares(const GpuExec& ex, const float* x, int64_t n,
                             double* out) NSAL_GPU_BODY;
// db[c] += sum over n, s of dy[n, c, s]   (dy: (N, C, S)); summed in double.
NSAL_GPU_FN void bias_grad(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* dy,
                           float* db) NSAL_GPU_BODY;

// ---- Optimizers (kernels/cuda/optim.cu) --------------------------------------------------------
// The per-element rules of kernels/optim.h over n parameters. The learning rate and the step
// count come from `state` in device memory (p.lr, p.first_step and p.step are not used), and the
// step advances state.step on the stream: a step captured in a CUDA graph does on each replay
// what the next eager step would.
NSAL_GPU_FN void sgd_step(const GpuExec& ex, float* w, const float* g, float* buf, int64_t n,
                          const SgdParams& p, const OptimDeviceState& state) NSAL_GPU_BODY;
NSAL_GPU_FN void adam_step(const GpuExec& ex, float* w, const float* g, float* m, float* v,
                           int64_t n, const AdamParams& p,
                           const OptimDeviceState& state) NSAL_GPU_BODY;
// Gradient clipping without a host read: x *= min(1, max_norm / (sqrt(*sumsq) + 1e-6)), the
// factor computed on the device from a sum of squares already there (sum_squares above).
NSAL_GPU_FN void clip_scale(const GpuExec& ex, float* x, int64_t n, const double* sumsq,
                            double max_norm) NSAL_GPU_BODY;

// ---- Softmax and losses (kernels/cuda/softmax.cu, kernels/cuda/loss.cu) --------------------
// Over dim 1 of x (N, C, P) (P = 1 for (N, C)).
NSAL_GPU_FN void softmax_forward(const GpuExec& ex, int64_t n, int64_t c, int64_t p, const float* x,
                                 float* y) NSAL_GPU_BODY;
NSAL_GPU_FN void log_softmax_forward(const GpuExec& ex, int64_t n, int64_t c, int64_t p,
                                     const float* x, float* y) NSAL_GPU_BODY;
// dx = y (dy - sum_c dy y)   (y: softmax output)
NSAL_GPU_FN void softmax_backward(const GpuExec& ex, int64_t n, int64_t c, int64_t p,
                                  const float* y, const float* dy, float* dx) NSAL_GPU_BODY;
// dx = dy - exp(y) sum_c dy   (y: log-softmax output)
NSAL_GPU_FN void log_softmax_backward(const GpuExec& ex, int64_t n, int64_t c, int64_t p,
                                      const float* y, const float* dy, float* dx) NSAL_GPU_BODY;

enum class Reduction : uint8_t { mean, sum };

// PyTorch's cross_entropy on logits (N, C, P) and labels (N, P) (int32): per-element
// l = -w[y] log_softmax(x)[y]; ignored elements (label == ignore_index) count nothing.
// mean: sum l / sum w[y] over the kept elements (NaN when none is kept, as PyTorch); sum: sum l.
// class_weight (C,) or null (all 1). A label outside [0, C) that is not ignore_index makes the
// loss NaN (no host check: that would synchronise; the data readers reject such labels).
// loss: one float on the device; weight_sum: one double on the device, kept for backward.
NSAL_GPU_FN void cross_entropy_forward(const GpuExec& ex, int64_t n, int64_t c, int64_t p,
                                       const float* logits, const int32_t* labels,
                                       const float* class_weight, int32_t ignore_index,
                                       Reduction reduction, float* loss,
                                       double* weight_sum) NSAL_GPU_BODY;
// dlogits = dloss * w[y] (softmax(x) - onehot(y)) / (sum w for mean, 1 for sum); 0 where
// ignored. Overwritten. weight_sum: the forward's.
NSAL_GPU_FN void cross_entropy_backward(const GpuExec& ex, int64_t n, int64_t c, int64_t p,
                                        const float* logits, const int32_t* labels,
                                        const float* class_weight, int32_t ignore_index,
                                        Reduction reduction, const double* weight_sum, float dloss,
                                        float* dlogits) NSAL_GPU_BODY;
// mean/sum of (x - t)^2 and |x - t| over n elements; loss: one float on the device.
NSAL_GPU_FN void mse_forward(const GpuExec& ex, int64_t n, const float* x, const float* target,
                             Reduction reduction, float* loss) NSAL_GPU_BODY;
NSAL_GPU_FN void mse_backward(const GpuExec& ex, int64_t n, const float* x, const float* target,
                              Reduction reduction, float dloss, float* dx) NSAL_GPU_BODY;
// Backward uses sign(x - t) with sign(0) = 0, as PyTorch.
NSAL_GPU_FN void l1_forward(const GpuExec& ex, int64_t n, const float* x, const float* target,
                            Reduction reduction, float* loss) NSAL_GPU_BODY;
NSAL_GPU_FN void l1_backward(const GpuExec& ex, int64_t n, const float* x, const float* target,
                             Reduction reduction, float dloss, float* dx) NSAL_GPU_BODY;

// ---- Resampling, dropout, channel concat (kernels/cuda/upsample.cu, dropout.cu, channels.cpp)
// Bilinear, align_corners=False (kernels/bilinear.h): x (N, C, H, W) -> y (N, C, OH, OW).
// scale_h / scale_w: the user's scale factors (sampling step 1 / scale, as PyTorch when the scale
// is not recomputed), or <= 0 when an output size was given (step in / out), as
// kernels::cpu::upsample_bilinear2d_*. Backward gathers per input cell (no atomics), dx
// overwritten.
NSAL_GPU_FN
void upsample_bilinear2d_forward(const GpuExec& ex, int64_t n, int64_t c, int h, int w, int oh,
                                 int ow, const float* x, float* y, double scale_h = 0,
                                 double scale_w = 0) NSAL_GPU_BODY;
NSAL_GPU_FN void upsample_bilinear2d_backward(const GpuExec& ex, int64_t n, int64_t c, int h, int w,
                                              int oh, int ow, const float* dy, float* dx,
                                              double scale_h = 0, double scale_w = 0) NSAL_GPU_BODY;
// Inverted dropout with the mask of kernels/dropout.h: y = keep(seed, step, i) ? x / (1 - p) :
// 0. Backward regenerates the mask: dx = keep ? dy / (1 - p) : 0. x and y (dy and dx) may
// alias. The n elements are masked as `rows` rows of n / rows, row r at step + r, or at
// step + row_keys[r] with row keys (device memory, one per row).
NSAL_GPU_FN
void dropout_forward(const GpuExec& ex, int64_t n, double p, uint64_t seed, uint64_t step,
                     const float* x, float* y, int64_t rows = 1,
                     const int32_t* row_keys = nullptr) NSAL_GPU_BODY;
NSAL_GPU_FN void dropout_backward(const GpuExec& ex, int64_t n, double p, uint64_t seed,
                                  uint64_t step, const float* dy, float* dx, int64_t rows = 1,
                                  const int32_t* row_keys = nullptr) NSAL_GPU_BODY;
// Training-mode dropout with its step in device memory (`steps`: two uint64, the next step and
// the last forward's), so that a captured training step draws a new mask at every replay:
// forward masks with steps[0], then sets steps[1] = steps[0] and advances steps[0]; backward
// masks with steps[1]. One row, no keys.
NSAL_GPU_FN void dropout_forward_counted(const GpuExec& ex, int64_t n, double p, uint64_t seed,
                                         uint64_t* steps, const float* x, float* y) NSAL_GPU_BODY;
NSAL_GPU_FN void dropout_backward_counted(const GpuExec& ex, int64_t n, double p, uint64_t seed,
                                          const uint64_t* steps, const float* dy,
                                          float* dx) NSAL_GPU_BODY;
// dst (N, sum channels[i], S) = concatenation of srcs[i] (N, channels[i], S) along dim 1.
// srcs/dsts and channels are host arrays of k entries.
NSAL_GPU_FN
void concat_channels(const GpuExec& ex, int64_t n, int64_t s, int k, const float* const* srcs,
                     const int64_t* channels, float* dst) NSAL_GPU_BODY;
// The inverse: dsts[i] (N, channels[i], S) = slices of src along dim 1 (overwritten).
NSAL_GPU_FN
void split_channels(const GpuExec& ex, int64_t n, int64_t s, int k, const float* src,
                    float* const* dsts, const int64_t* channels) NSAL_GPU_BODY;

}  // namespace nsal::kernels::gpu

#ifndef NSAL_WITH_CUDA
#pragma GCC diagnostic pop
#endif
#undef NSAL_GPU_FN
#undef NSAL_GPU_BODY
