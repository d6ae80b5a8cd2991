// In-place weight perturbation for noise stability (DESIGN section 3), CPU and CUDA behind one
// host API. Usage per acquisition:
//
//   NoisePerturber np(segments, n, arena_numel, on_cuda);   // once per model layout
//   np.measure_weights(w);                                   // after training
//   for (k = 0; k < K; ++k) {
//     NoiseDrawStats st = np.perturb(w, spec, k);            // w += scale_s * z_k
//     ... run the pool on the perturbed model ...
//     np.restore(w);                                         // w back, bit for bit
//   }
//
// Exactness without a copy of the model: perturb writes p = w + d and checks in the same pass
// whether p - d (what restore will compute) gives w back bit for bit; where it does not, it
// appends (position, w) to the log of that tile (kLogPerTile entries per 4096-element tile).
// restore regenerates d, subtracts, and patches from the log. A tile with more exceptions than
// its log holds is left untouched by the pass and then handled by the fallback: a saved copy of
// that tile (grown on demand, kept for later draws) is taken, the tile is perturbed, and
// restore copies it back; the stats say how many tiles and elements went that way. The values
// written do not depend on the path: logged, fallback and plain elements all get w + d.
//
// Pointers (w) live on the perturber's device. Nothing here depends on thread counts, launch
// shapes or atomics' timing: the noise, the norms, the scales, the logs and the set of
// fallback tiles are the same on the CPU and the GPU. On CUDA, perturb() synchronises the
// stream once (to read the exception and overflow counters); restore() does not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/noise.h"
#include "kernels/noise_layout.h"

namespace nsal::kernels {

struct NoiseSpec {
  uint64_t seed = 0;
  NoiseDist dist = NoiseDist::gaussian;
  NoiseScaling scaling = NoiseScaling::global_relative;
  double lambda = 1e-3;
};

struct NoiseDrawStats {
  int64_t perturbed = 0;          // elements in the segments (all received noise)
  int64_t logged = 0;             // exceptions restored from the log
  int64_t fallback_tiles = 0;     // tiles whose log overflowed: restored from a saved copy
  int64_t fallback_elements = 0;  // arena elements held in those copies
};

// What perturb() left for restore(), downloaded to the host (for tests and diagnostics).
struct NoiseLogSnapshot {
  std::vector<int32_t> counts;      // per active tile (layout().tiles order); -1 = fallback
  std::vector<uint16_t> positions;  // per tile: log_per_tile slots, position inside the tile
  std::vector<uint32_t> values;     // per tile: log_per_tile slots, bits of the clean weight
};

class NoiseBackend;

class NoisePerturber {
 public:
  static constexpr int kDefaultLogPerTile = 64;  // 1/64 of the elements, 6 bytes each: 2.3%

  // segments: sorted, disjoint runs of the arena that receive noise (the others and the
  // padding are never touched). on_cuda: w lives on CUDA device `device`; `stream` is a
  // cudaStream_t (nullptr: the default stream).
  NoisePerturber(const NoiseSegment* segments, int num_segments, int64_t arena_numel,
                 bool on_cuda = false, int device = 0, void* stream = nullptr,
                 int log_per_tile = kDefaultLogPerTile);
  ~NoisePerturber();
  NoisePerturber(const NoisePerturber&) = delete;
  NoisePerturber& operator=(const NoisePerturber&) = delete;

  // Per-segment sums of squares of the clean weights (double, fixed reduction order). Needed by
  // the relative scalings; call again whenever the weights change (after training).
  void measure_weights(const float* w);
  bool weights_measured() const { return !weight_sumsq_.empty(); }
  const std::vector<double>& weight_sumsq() const { return weight_sumsq_; }

  // Per-segment sums of squares of the unscaled noise of draw `draw`, regenerated (never
  // stored).
  std::vector<double> noise_sumsq(uint64_t seed, uint64_t draw, NoiseDist dist);

  // w += scale_s * z in every segment. Throws if the previous draw was not restored, or if a
  // relative scaling is asked for before measure_weights().
  NoiseDrawStats perturb(float* w, const NoiseSpec& spec, uint64_t draw);
  // Puts back exactly the weights perturb() saw. w must be the pointer perturb() got.
  void restore(float* w);
  bool is_perturbed() const { return perturbed_ != nullptr; }

  // Per-segment scales of the last perturb() (for reports).
  std::vector<float> last_scales() const;
  NoiseLogSnapshot log_snapshot() const;

  // Bytes this object holds besides the arena: log, tables, scratch, fallback copies.
  size_t extra_bytes() const;
  const NoiseLayout& layout() const { return layout_; }
  bool on_cuda() const { return on_cuda_; }
  int log_per_tile() const { return log_per_tile_; }

 private:
  NoiseLayout layout_;
  bool on_cuda_ = false;
  int log_per_tile_ = 0;
  std::unique_ptr<NoiseBackend> backend_;
  std::vector<double> weight_sumsq_;
  float* perturbed_ = nullptr;
};

// out[j] = the unscaled noise of arena element first + j in draw `draw` (out on the CPU or on
// the current CUDA device). For tests, references and anyone who wants the raw stream.
void noise_fill(float* out, int64_t first, int64_t n, uint64_t seed, uint64_t draw, NoiseDist dist,
                bool on_cuda = false, void* stream = nullptr);

}  // namespace nsal::kernels
