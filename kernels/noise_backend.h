// The backend interface behind NoisePerturber (kernels/noise_perturber.h): one implementation
// on the CPU (kernels/cpu/noise_cpu.cpp) and one on CUDA (kernels/cuda/noise_kernels.cu). Both
// follow the canonical tile order of kernels/noise_layout.h, so they agree bit for bit.
#pragma once

#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/error.h"
#include "kernels/noise_perturber.h"

namespace nsal::kernels {

// Calls f(std::integral_constant<NoiseDist, D>{}) for the runtime distribution.
template <class F>
void with_dist(NoiseDist dist, F&& f) {
  switch (dist) {
    case NoiseDist::gaussian:
      f(std::integral_constant<NoiseDist, NoiseDist::gaussian>{});
      return;
    case NoiseDist::uniform:
      f(std::integral_constant<NoiseDist, NoiseDist::uniform>{});
      return;
    case NoiseDist::laplace:
      f(std::integral_constant<NoiseDist, NoiseDist::laplace>{});
      return;
  }
  throw Error("noise: unknown distribution");
}

class NoiseBackend {
 public:
  virtual ~NoiseBackend() = default;
  // Per-segment sums of squares, written to host arrays of num_segments doubles. The weights'
  // sums are also kept by the backend for the relative scalings.
  virtual void sumsq_weights(const float* w, double* out) = 0;
  virtual void sumsq_noise(uint64_t seed, uint64_t draw, NoiseDist dist, double* out) = 0;
  virtual NoiseDrawStats perturb(float* w, const NoiseSpec& spec, uint64_t draw) = 0;
  virtual void restore(float* w) = 0;
  virtual std::vector<float> scales() const = 0;
  virtual NoiseLogSnapshot log_snapshot() const = 0;
  virtual size_t extra_bytes() const = 0;
};

std::unique_ptr<NoiseBackend> make_cpu_noise_backend(const NoiseLayout& layout, int log_per_tile);
// Throws when the CUDA backend is not compiled.
std::unique_ptr<NoiseBackend> make_cuda_noise_backend(const NoiseLayout& layout, int log_per_tile,
                                                      int device, void* stream);

void noise_fill_cpu(float* out, int64_t first, int64_t n, uint64_t seed, uint64_t draw,
                    NoiseDist dist);
void noise_fill_cuda(float* out, int64_t first, int64_t n, uint64_t seed, uint64_t draw,
                     NoiseDist dist, void* stream);

}  // namespace nsal::kernels
