// CUDA backend of the noise perturber (kernels/noise_perturber.h). One block of 256 threads per
// 4096-element tile, in the canonical order of kernels/noise_layout.h, so every sum, scale,
// log entry and perturbed value equals the CPU backend's bit for bit.
#include <cub/block/block_scan.cuh>

#include <algorithm>

#include "kernels/cuda/check.h"
#include "kernels/cuda/device_array.h"
#include "kernels/noise_backend.h"

namespace nsal::kernels {

namespace {

constexpr int kThreads = kNoiseLanes;  // 256
static_assert(kNoiseLanes * kNoiseGroupsPerLane * 4 == kNoiseTile, "tile geometry");

struct DevLayout {
  const NoisePiece* pieces;
  const int32_t* tiles;
  const int32_t* tile_pieces;
};

// First piece in [lo, hi) whose end is past `index` (pieces are sorted and disjoint).
__device__ int first_piece_ending_after(const NoisePiece* pieces, int lo, int hi, int64_t index) {
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (pieces[mid].end <= index)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// The in-segment elements of group e0 .. e0+3 of a tile: their weights, scales and a mask.
// When the whole group lies in one piece and w is 16-byte aligned (the arena's usual case), one
// float4 load serves it.
struct Group4 {
  float w[4];
  float s[4];
  uint32_t mask;  // bit e: element e0 + e is in a segment
  bool whole;     // all four, in one piece, aligned: float4 stores are safe
};

__device__ __forceinline__ Group4 load_group(const DevLayout& L, int pb, int pe, const float* w,
                                             const float* scales, int64_t e0, bool aligned) {
  Group4 G;
  G.mask = 0;
  G.whole = false;
  int pc = first_piece_ending_after(L.pieces, pb, pe, e0);
  if (pc == pe || L.pieces[pc].begin >= e0 + 4) return G;
  const NoisePiece P = L.pieces[pc];
  if (aligned && P.begin <= e0 && e0 + 4 <= P.end) {
    const float4 v = *reinterpret_cast<const float4*>(w + e0);
    const float sc = scales[P.segment];
    G.w[0] = v.x;
    G.w[1] = v.y;
    G.w[2] = v.z;
    G.w[3] = v.w;
#pragma unroll
    for (int e = 0; e < 4; ++e)
      G.s[e] = sc;
    G.mask = 0xfu;
    G.whole = true;
    return G;
  }
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const int64_t i = e0 + e;
    while (pc < pe && L.pieces[pc].end <= i)
      ++pc;
    G.w[e] = 0.0f;
    G.s[e] = 0.0f;
    if (pc == pe || i < L.pieces[pc].begin) continue;
    G.w[e] = w[i];
    G.s[e] = scales[L.pieces[pc].segment];
    G.mask |= 1u << e;
  }
  return G;
}

// The fixed lane tree of lane_tree_sum() in shared memory.
__device__ double block_lane_tree(double v, double* sh) {
  const int l = threadIdx.x;
  sh[l] = v;
  __syncthreads();
  for (int s = kThreads / 2; s >= 1; s >>= 1) {
    if (l < s) sh[l] = __dadd_rn(sh[l], sh[l + s]);
    __syncthreads();
  }
  return sh[0];
}

// Per piece: sum of squares of the weights (kNoise false) or of the regenerated noise.
template <bool kNoise, NoiseDist D>
__global__ void __launch_bounds__(kThreads)
    piece_sumsq_kernel(const NoisePiece* pieces, const float* w, uint64_t seed, uint64_t draw,
                       double* partials) {
  __shared__ double sh[kThreads];
  const NoisePiece pc = pieces[blockIdx.x];
  const int64_t g0 = static_cast<int64_t>(pc.tile) * (kNoiseTile / 4);
  double acc = 0.0;
#pragma unroll
  for (int j = 0; j < kNoiseGroupsPerLane; ++j) {
    const int64_t g = g0 + threadIdx.x + kThreads * j;
    const int64_t e0 = 4 * g;
    if (e0 + 4 <= pc.begin || e0 >= pc.end) continue;
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (kNoise) noise4_of<D>(seed, draw, static_cast<uint64_t>(g), v);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t i = e0 + e;
      if (i < pc.begin || i >= pc.end) continue;
      const double x = kNoise ? v[e] : w[i];
      acc = __dadd_rn(acc, __dmul_rn(x, x));
    }
  }
  const double s = block_lane_tree(acc, sh);
  if (threadIdx.x == 0) partials[blockIdx.x] = canonical_nan(s);
}

// Per segment: the pairwise tree of pairwise_tree_sum() over its piece partials, level by
// level, ping-ponging between `a` and `b` (same values as the in-place serial version).
__global__ void segment_tree_kernel(double* a, double* b, const int32_t* segment_pieces,
                                    double* out) {
  const int s = blockIdx.x;
  const int first = segment_pieces[s];
  int64_t n = segment_pieces[s + 1] - first;
  double* src = a + first;
  double* dst = b + first;
  if (n == 0) {
    if (threadIdx.x == 0) out[s] = 0.0;
    return;
  }
  while (n > 1) {
    const int64_t half = n / 2;
    for (int64_t i = threadIdx.x; i < half; i += blockDim.x)
      dst[i] = __dadd_rn(src[2 * i], src[2 * i + 1]);
    if (n % 2 && threadIdx.x == 0) dst[half] = src[n - 1];
    __syncthreads();
    double* t = src;
    src = dst;
    dst = t;
    n = half + n % 2;
  }
  if (threadIdx.x == 0) out[s] = canonical_nan(src[0]);
}

__global__ void scales_kernel(NoiseScaling mode, double lambda, const double* w_sumsq,
                              const double* z_sumsq, int num_segments, double* scratch,
                              float* scales) {
  compute_noise_scales(mode, lambda, w_sumsq, z_sumsq, num_segments, scratch, scales);
}

// The perturb pass: one block per tile. Each thread computes w + d and the round-trip check for
// its 16 elements; a block scan places the exceptions in the tile's log in canonical order. A
// tile whose exceptions do not fit is left untouched and marked -1 for the fallback.
template <NoiseDist D>
__global__ void __launch_bounds__(kThreads)
    perturb_kernel(DevLayout L, float* w, const float* scales, uint64_t seed, uint64_t draw,
                   int cap, bool aligned, int32_t* counts, uint16_t* log_pos, uint32_t* log_val,
                   unsigned long long* counters) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage scan_tmp;
  const int t = blockIdx.x;
  const int64_t base = static_cast<int64_t>(L.tiles[t]) * kNoiseTile;
  const int pb = L.tile_pieces[t], pe = L.tile_pieces[t + 1];
  float pv[16];
  uint32_t wb[16];
  uint32_t in_mask = 0, fail_mask = 0, whole_mask = 0;
#pragma unroll
  for (int j = 0; j < kNoiseGroupsPerLane; ++j) {
    const int64_t g = base / 4 + threadIdx.x + kThreads * j;
    const Group4 G = load_group(L, pb, pe, w, scales, 4 * g, aligned);
    if (!G.mask) continue;
    whole_mask |= G.whole ? 1u << j : 0u;
    float z[4];
    noise4_of<D>(seed, draw, static_cast<uint64_t>(g), z);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int k = j * 4 + e;
      const float d = noise_delta(G.s[e], z[e]);
      const float p = apply_delta(G.w[e], d);
      pv[k] = p;
      wb[k] = fp::bits(G.w[e]);
      if (!(G.mask & (1u << e))) continue;
      in_mask |= 1u << k;
      if (fp::bits(remove_delta(p, d)) != wb[k]) fail_mask |= 1u << k;
    }
  }
  int offset = 0, total = 0;
  Scan(scan_tmp).ExclusiveSum(__popc(fail_mask), offset, total);
  if (total > cap) {
    if (threadIdx.x == 0) {
      counts[t] = -1;
      atomicAdd(&counters[1], 1ull);
    }
    return;
  }
  const size_t slot0 = static_cast<size_t>(t) * cap;
#pragma unroll
  for (int j = 0; j < kNoiseGroupsPerLane; ++j) {
    const int64_t rel0 = 4 * (threadIdx.x + kThreads * j);
    if (whole_mask & (1u << j)) {
      *reinterpret_cast<float4*>(w + base + rel0) =
          make_float4(pv[4 * j], pv[4 * j + 1], pv[4 * j + 2], pv[4 * j + 3]);
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (in_mask & (1u << (j * 4 + e))) w[base + rel0 + e] = pv[j * 4 + e];
    }
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int k = j * 4 + e;
      if (fail_mask & (1u << k)) {
        log_pos[slot0 + offset] = static_cast<uint16_t>(rel0 + e);
        log_val[slot0 + offset] = wb[k];
        ++offset;
      }
    }
  }
  if (threadIdx.x == 0) {
    counts[t] = total;
    if (total) atomicAdd(&counters[0], static_cast<unsigned long long>(total));
  }
}

// Restore: regenerate d, subtract, then patch the tile's log entries (after a barrier, so the
// patch lands on top of the subtraction).
template <NoiseDist D>
__global__ void __launch_bounds__(kThreads)
    restore_kernel(DevLayout L, float* w, const float* scales, uint64_t seed, uint64_t draw,
                   int cap, bool aligned, const int32_t* counts, const uint16_t* log_pos,
                   const uint32_t* log_val) {
  const int t = blockIdx.x;
  const int cnt = counts[t];
  if (cnt < 0) return;  // fallback tile
  const int64_t base = static_cast<int64_t>(L.tiles[t]) * kNoiseTile;
  const int pb = L.tile_pieces[t], pe = L.tile_pieces[t + 1];
#pragma unroll
  for (int j = 0; j < kNoiseGroupsPerLane; ++j) {
    const int64_t g = base / 4 + threadIdx.x + kThreads * j;
    const int64_t e0 = 4 * g;
    const Group4 G = load_group(L, pb, pe, w, scales, e0, aligned);
    if (!G.mask) continue;
    float z[4], r[4];
    noise4_of<D>(seed, draw, static_cast<uint64_t>(g), z);
#pragma unroll
    for (int e = 0; e < 4; ++e)
      r[e] = remove_delta(G.w[e], noise_delta(G.s[e], z[e]));
    if (G.whole) {
      *reinterpret_cast<float4*>(w + e0) = make_float4(r[0], r[1], r[2], r[3]);
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (G.mask & (1u << e)) w[e0 + e] = r[e];
    }
  }
  if (cnt > 0) {
    __syncthreads();
    const size_t slot0 = static_cast<size_t>(t) * cap;
    for (int k = threadIdx.x; k < cnt; k += kThreads)
      w[base + log_pos[slot0 + k]] = fp::from_bits(log_val[slot0 + k]);
  }
}

// Fallback: save tile slots[k] to copy k, then perturb it. Each thread copies and perturbs
// its own elements, so the copy always holds the clean values.
template <NoiseDist D>
__global__ void __launch_bounds__(kThreads)
    fallback_perturb_kernel(DevLayout L, float* w, const float* scales, uint64_t seed,
                            uint64_t draw, const int32_t* slots, int64_t arena_numel,
                            float* copies) {
  const int t = slots[blockIdx.x];
  const int64_t base = static_cast<int64_t>(L.tiles[t]) * kNoiseTile;
  float* copy = copies + static_cast<size_t>(blockIdx.x) * kNoiseTile;
  const int pb = L.tile_pieces[t], pe = L.tile_pieces[t + 1];
#pragma unroll
  for (int j = 0; j < kNoiseGroupsPerLane; ++j) {
    const int64_t g = base / 4 + threadIdx.x + kThreads * j;
    const int64_t e0 = 4 * g;
    for (int e = 0; e < 4; ++e)
      if (e0 + e < arena_numel) copy[e0 + e - base] = w[e0 + e];
    int pc = first_piece_ending_after(L.pieces, pb, pe, e0);
    if (pc == pe || L.pieces[pc].begin >= e0 + 4) continue;
    float z[4];
    noise4_of<D>(seed, draw, static_cast<uint64_t>(g), z);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t i = e0 + e;
      while (pc < pe && L.pieces[pc].end <= i)
        ++pc;
      if (pc == pe || i < L.pieces[pc].begin) continue;
      w[i] = apply_delta(w[i], noise_delta(scales[L.pieces[pc].segment], z[e]));
    }
  }
}

// Copies the saved tiles back (only their segment elements).
__global__ void __launch_bounds__(kThreads)
    fallback_restore_kernel(DevLayout L, float* w, const int32_t* slots, const float* copies) {
  const int t = slots[blockIdx.x];
  const int64_t base = static_cast<int64_t>(L.tiles[t]) * kNoiseTile;
  const float* copy = copies + static_cast<size_t>(blockIdx.x) * kNoiseTile;
  for (int p = L.tile_pieces[t]; p < L.tile_pieces[t + 1]; ++p) {
    const NoisePiece pc = L.pieces[p];
    for (int64_t i = pc.begin + threadIdx.x; i < pc.end; i += kThreads)
      w[i] = copy[i - base];
  }
}

template <NoiseDist D>
__global__ void noise_fill_kernel(float* out, int64_t first, int64_t n, uint64_t seed,
                                  uint64_t draw) {
  const int64_t g_first = first / 4, g_last = (first + n - 1) / 4;
  for (int64_t g = g_first + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       g <= g_last; g += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float z[4];
    noise4_of<D>(seed, draw, static_cast<uint64_t>(g), z);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t i = 4 * g + e;
      if (i >= first && i < first + n) out[i - first] = z[e];
    }
  }
}

class CudaNoiseBackend final : public NoiseBackend {
 public:
  CudaNoiseBackend(const NoiseLayout& layout, int log_per_tile, int device, void* stream)
      : L_(layout),
        cap_(log_per_tile),
        device_(device),
        stream_(static_cast<cudaStream_t>(stream)) {
    NSAL_CHECK(device >= 0 && device < cuda_device_count(),
               "noise perturber: CUDA device {} does not answer ({} devices; {})", device,
               cuda_device_count(), cuda_unavailable_reason());
    NSAL_CUDA_CHECK(cudaSetDevice(device_));
    const size_t nt = L_.tiles.size(), np = L_.pieces.size(), ns = L_.segments.size();
    pieces_.upload(L_.pieces, device_, "noise pieces", stream_);
    tiles_.upload(L_.tiles, device_, "noise tiles", stream_);
    tile_pieces_.upload(L_.tile_pieces, device_, "noise tile pieces", stream_);
    segment_pieces_.upload(L_.segment_pieces, device_, "noise segment pieces", stream_);
    counts_.resize(nt, device_, "noise log counts");
    pos_.resize(nt * cap_, device_, "noise log positions");
    vals_.resize(nt * cap_, device_, "noise log values");
    partials_.resize(np, device_, "noise partial sums");
    partials_b_.resize(np, device_, "noise partial sums");
    w_sumsq_.resize(ns, device_, "noise weight norms");
    z_sumsq_.resize(ns, device_, "noise norms");
    scales_.resize(ns, device_, "noise scales");
    scale_scratch_.resize(2 * ns, device_, "noise scale scratch");
    counters_.resize(2, device_, "noise counters");
    slots_.resize(nt, device_, "noise fallback tiles");
    if (ns) NSAL_CUDA_CHECK(cudaMemsetAsync(w_sumsq_.get(), 0, ns * sizeof(double), stream_));
    if (nt) NSAL_CUDA_CHECK(cudaMemsetAsync(counts_.get(), 0, nt * sizeof(int32_t), stream_));
    NSAL_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void sumsq_weights(const float* w, double* out) override {
    NSAL_CUDA_CHECK(cudaSetDevice(device_));
    check_device_pointer(w, "measure_weights");
    launch_sumsq(false, w, 0, 0, NoiseDist::gaussian, w_sumsq_.get());
    copy_to_host(out, w_sumsq_.get(), L_.segments.size());
  }

  void sumsq_noise(uint64_t seed, uint64_t draw, NoiseDist dist, double* out) override {
    NSAL_CUDA_CHECK(cudaSetDevice(device_));
    launch_sumsq(true, nullptr, seed, draw, dist, z_sumsq_.get());
    copy_to_host(out, z_sumsq_.get(), L_.segments.size());
  }

  NoiseDrawStats perturb(float* w, const NoiseSpec& spec, uint64_t draw) override {
    NSAL_CUDA_CHECK(cudaSetDevice(device_));
    check_device_pointer(w, "perturb");
    spec_ = spec;
    draw_ = draw;
    nfallback_ = 0;
    const int ns = L_.num_segments(), nt = L_.num_tiles();
    NoiseDrawStats st;
    st.perturbed = L_.selected_numel;
    if (ns == 0) return st;
    if (spec.scaling != NoiseScaling::constant)
      launch_sumsq(true, nullptr, spec.seed, draw, spec.dist, z_sumsq_.get());
    // The scales first, even with no element to perturb: last_scales() reads them.
    scales_kernel<<<1, 1, 0, stream_>>>(spec.scaling, spec.lambda, w_sumsq_.get(), z_sumsq_.get(),
                                        ns, scale_scratch_.get(), scales_.get());
    NSAL_CUDA_CHECK_LAUNCH();
    if (nt == 0) return st;
    NSAL_CUDA_CHECK(cudaMemsetAsync(counters_.get(), 0, 2 * sizeof(unsigned long long), stream_));
    with_dist(spec.dist, [&](auto d) {
      perturb_kernel<decltype(d)::value><<<nt, kThreads, 0, stream_>>>(
          dev_layout(), w, scales_.get(), spec.seed, draw, cap_, aligned(w), counts_.get(),
          pos_.get(), vals_.get(), counters_.get());
    });
    NSAL_CUDA_CHECK_LAUNCH();
    std::vector<unsigned long long> c = counters_.download(2, stream_);
    st.logged = static_cast<int64_t>(c[0]);
    if (c[1] > 0) {
      std::vector<int32_t> counts = counts_.download(nt, stream_);
      fallback_slots_.clear();
      for (int t = 0; t < nt; ++t)
        if (counts[t] < 0) fallback_slots_.push_back(t);
      try {
        slots_.upload(fallback_slots_, device_, "noise fallback tiles", stream_);
        copies_.resize(fallback_slots_.size() * kNoiseTile, device_, "noise fallback copies");
      } catch (...) {
        // No room for the overflowing tiles' copies: they are still clean (perturb_kernel left
        // them alone); put the others back so that the weights leave as they came.
        restore(w);  // nfallback_ is 0: the log tiles only
        throw;
      }
      nfallback_ = static_cast<int>(fallback_slots_.size());
      with_dist(spec.dist, [&](auto d) {
        fallback_perturb_kernel<decltype(d)::value>
            <<<nfallback_, kThreads, 0, stream_>>>(dev_layout(), w, scales_.get(), spec.seed, draw,
                                                   slots_.get(), L_.arena_numel, copies_.get());
      });
      NSAL_CUDA_CHECK_LAUNCH();
      st.fallback_tiles = nfallback_;
      for (int t : fallback_slots_)
        st.fallback_elements +=
            std::min(kNoiseTile, L_.arena_numel - int64_t{L_.tiles[t]} * kNoiseTile);
    }
    return st;
  }

  void restore(float* w) override {
    NSAL_CUDA_CHECK(cudaSetDevice(device_));
    const int nt = L_.num_tiles();
    if (nt == 0) return;
    with_dist(spec_.dist, [&](auto d) {
      restore_kernel<decltype(d)::value>
          <<<nt, kThreads, 0, stream_>>>(dev_layout(), w, scales_.get(), spec_.seed, draw_, cap_,
                                         aligned(w), counts_.get(), pos_.get(), vals_.get());
    });
    NSAL_CUDA_CHECK_LAUNCH();
    if (nfallback_ > 0) {
      fallback_restore_kernel<<<nfallback_, kThreads, 0, stream_>>>(dev_layout(), w, slots_.get(),
                                                                    copies_.get());
      NSAL_CUDA_CHECK_LAUNCH();
    }
  }

  std::vector<float> scales() const override {
    return scales_.download(L_.segments.size(), stream_);
  }

  NoiseLogSnapshot log_snapshot() const override {
    return {counts_.download(L_.tiles.size(), stream_),
            pos_.download(L_.tiles.size() * cap_, stream_),
            vals_.download(L_.tiles.size() * cap_, stream_)};
  }

  size_t extra_bytes() const override {
    return pieces_.capacity_bytes() + tiles_.capacity_bytes() + tile_pieces_.capacity_bytes() +
           segment_pieces_.capacity_bytes() + counts_.capacity_bytes() + pos_.capacity_bytes() +
           vals_.capacity_bytes() + partials_.capacity_bytes() + partials_b_.capacity_bytes() +
           w_sumsq_.capacity_bytes() + z_sumsq_.capacity_bytes() + scales_.capacity_bytes() +
           scale_scratch_.capacity_bytes() + counters_.capacity_bytes() + slots_.capacity_bytes() +
           copies_.capacity_bytes();
  }

 private:
  DevLayout dev_layout() const { return {pieces_.get(), tiles_.get(), tile_pieces_.get()}; }
  static bool aligned(const float* w) { return reinterpret_cast<uintptr_t>(w) % 16 == 0; }

  // A host pointer handed to the CUDA backend is a clear error, not a crash in a kernel.
  void check_device_pointer(const float* w, const char* what) const {
    if (L_.arena_numel == 0) return;
    cudaPointerAttributes attr{};
    cudaError_t e = cudaPointerGetAttributes(&attr, w);
    if (e != cudaSuccess) cudaGetLastError();
    NSAL_CHECK(e == cudaSuccess &&
                   (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged),
               "noise perturber ({}): the weights at {} are not CUDA device memory", what,
               static_cast<const void*>(w));
  }

  void launch_sumsq(bool noise, const float* w, uint64_t seed, uint64_t draw, NoiseDist dist,
                    double* out) {
    const int np = static_cast<int>(L_.pieces.size()), ns = L_.num_segments();
    if (ns == 0) return;
    if (np > 0) {
      if (noise) {
        with_dist(dist, [&](auto d) {
          piece_sumsq_kernel<true, decltype(d)::value>
              <<<np, kThreads, 0, stream_>>>(pieces_.get(), nullptr, seed, draw, partials_.get());
        });
      } else {
        piece_sumsq_kernel<false, NoiseDist::gaussian>
            <<<np, kThreads, 0, stream_>>>(pieces_.get(), w, 0, 0, partials_.get());
      }
      NSAL_CUDA_CHECK_LAUNCH();
    }
    segment_tree_kernel<<<ns, kThreads, 0, stream_>>>(partials_.get(), partials_b_.get(),
                                                      segment_pieces_.get(), out);
    NSAL_CUDA_CHECK_LAUNCH();
  }

  void copy_to_host(double* out, const double* dev, size_t n) {
    if (n == 0) return;
    NSAL_CUDA_CHECK(cudaMemcpyAsync(out, dev, n * sizeof(double), cudaMemcpyDeviceToHost, stream_));
    NSAL_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  const NoiseLayout& L_;
  int cap_;
  int device_;
  cudaStream_t stream_;
  NoiseSpec spec_;
  uint64_t draw_ = 0;
  int nfallback_ = 0;
  std::vector<int32_t> fallback_slots_;
  DeviceArray<NoisePiece> pieces_;
  DeviceArray<int32_t> tiles_, tile_pieces_, segment_pieces_, counts_, slots_;
  DeviceArray<uint16_t> pos_;
  DeviceArray<uint32_t> vals_;
  DeviceArray<double> partials_, partials_b_, w_sumsq_, z_sumsq_, scale_scratch_;
  DeviceArray<float> scales_, copies_;
  DeviceArray<unsigned long long> counters_;
};

}  // namespace

std::unique_ptr<NoiseBackend> make_cuda_noise_backend(const NoiseLayout& layout, int log_per_tile,
                                                      int device, void* stream) {
  return std::make_unique<CudaNoiseBackend>(layout, log_per_tile, device, stream);
}

void noise_fill_cuda(float* out, int64_t first, int64_t n, uint64_t seed, uint64_t draw,
                     NoiseDist dist, void* stream) {
  if (n <= 0) return;  // no launch of zero blocks
  const int64_t groups = (first + n - 1) / 4 - first / 4 + 1;
  const int blocks = static_cast<int>(std::min<int64_t>((groups + 255) / 256, 65536));
  with_dist(dist, [&](auto d) {
    noise_fill_kernel<decltype(d)::value>
        <<<blocks, 256, 0, static_cast<cudaStream_t>(stream)>>>(out, first, n, seed, draw);
  });
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels
