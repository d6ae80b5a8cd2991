#include "kernels/noise_perturber.h"

#include "kernels/error.h"
#include "kernels/noise_backend.h"

namespace nsal::kernels {

NoisePerturber::NoisePerturber(const NoiseSegment* segments, int num_segments, int64_t arena_numel,
                               bool on_cuda, int device, void* stream, int log_per_tile)
    : layout_(make_noise_layout(segments, num_segments, arena_numel)),
      on_cuda_(on_cuda),
      log_per_tile_(log_per_tile) {
  NSAL_CHECK(log_per_tile >= 0 && log_per_tile <= kNoiseTile,
             "noise perturber: log_per_tile {} must lie in [0, {}]", log_per_tile, kNoiseTile);
  backend_ = on_cuda ? make_cuda_noise_backend(layout_, log_per_tile, device, stream)
                     : make_cpu_noise_backend(layout_, log_per_tile);
}

NoisePerturber::~NoisePerturber() = default;

void NoisePerturber::measure_weights(const float* w) {
  NSAL_CHECK(!is_perturbed(), "noise perturber: measure_weights() while draw is not restored");
  NSAL_CHECK(w != nullptr || layout_.arena_numel == 0, "noise perturber: null weights");
  std::vector<double> s(layout_.segments.size(), 0.0);
  backend_->sumsq_weights(w, s.data());
  weight_sumsq_ = std::move(s);
}

std::vector<double> NoisePerturber::noise_sumsq(uint64_t seed, uint64_t draw, NoiseDist dist) {
  std::vector<double> s(layout_.segments.size(), 0.0);
  backend_->sumsq_noise(seed, draw, dist, s.data());
  return s;
}

NoiseDrawStats NoisePerturber::perturb(float* w, const NoiseSpec& spec, uint64_t draw) {
  NSAL_CHECK(!is_perturbed(),
             "noise perturber: perturb() called twice without restore() in between");
  NSAL_CHECK(w != nullptr || layout_.arena_numel == 0, "noise perturber: null weights");
  NSAL_CHECK(spec.lambda >= 0.0 && spec.lambda == spec.lambda,
             "noise perturber: lambda must be >= 0 (got {})", spec.lambda);
  NSAL_CHECK(spec.scaling == NoiseScaling::constant || weights_measured(),
             "noise perturber: the {} scaling needs measure_weights() first",
             noise_scaling_name(spec.scaling));
  NoiseDrawStats st = backend_->perturb(w, spec, draw);
  perturbed_ = w;
  return st;
}

void NoisePerturber::restore(float* w) {
  NSAL_CHECK(is_perturbed(), "noise perturber: restore() without a perturb()");
  NSAL_CHECK(w == perturbed_, "noise perturber: restore() got another buffer than perturb()");
  backend_->restore(w);
  perturbed_ = nullptr;
}

std::vector<float> NoisePerturber::last_scales() const {
  return backend_->scales();
}

NoiseLogSnapshot NoisePerturber::log_snapshot() const {
  return backend_->log_snapshot();
}

size_t NoisePerturber::extra_bytes() const {
  return backend_->extra_bytes() + weight_sumsq_.capacity() * sizeof(double);
}

void noise_fill(float* out, int64_t first, int64_t n, uint64_t seed, uint64_t draw, NoiseDist dist,
                bool on_cuda, void* stream) {
  NSAL_CHECK(first >= 0 && n >= 0, "noise_fill: bad range first={} n={}", first, n);
  if (n == 0) return;
  NSAL_CHECK(out != nullptr, "noise_fill: null output");
  if (on_cuda)
    noise_fill_cuda(out, first, n, seed, draw, dist, stream);
  else
    noise_fill_cpu(out, first, n, seed, draw, dist);
}

#ifndef NSAL_WITH_CUDA
std::unique_ptr<NoiseBackend> make_cuda_noise_backend(const NoiseLayout&, int, int, void*) {
  throw Error("noise perturber on CUDA: nsal was built without the CUDA backend");
}
void noise_fill_cuda(float*, int64_t, int64_t, uint64_t, uint64_t, NoiseDist, void*) {
  throw Error("noise_fill on CUDA: nsal was built without the CUDA backend");
}
#endif

}  // namespace nsal::kernels
