// CPU backend of the noise perturber (kernels/noise_perturber.h): OpenMP over tiles, each tile
// processed exactly as one CUDA block processes it, so the two backends agree bit for bit.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/error.h"
#include "kernels/noise_backend.h"

namespace nsal::kernels {

namespace {

// z[i - begin] = noise of arena element i, for i in [begin, end).
template <NoiseDist D>
void generate_range(int64_t begin, int64_t end, uint64_t seed, uint64_t draw, float* z) {
  if (begin >= end) return;
  int64_t g_first_full = (begin + 3) / 4, g_end_full = end / 4;
  if (g_first_full >= g_end_full) {  // no whole group inside: element by element
    for (int64_t i = begin; i < end; ++i) {
      float t[4];
      noise4_of<D>(seed, draw, static_cast<uint64_t>(i / 4), t);
      z[i - begin] = t[i % 4];
    }
    return;
  }
  for (int64_t i = begin; i < 4 * g_first_full; ++i) {
    float t[4];
    noise4_of<D>(seed, draw, static_cast<uint64_t>(i / 4), t);
    z[i - begin] = t[i % 4];
  }
  float* __restrict zz = z + (4 * g_first_full - begin);
  const int64_t ng = g_end_full - g_first_full;
  for (int64_t k = 0; k < ng; ++k) {  // vectorizes (with -fno-math-errno for sqrt)
    float t[4];
    noise4_of<D>(seed, draw, static_cast<uint64_t>(g_first_full + k), t);
    zz[4 * k] = t[0];
    zz[4 * k + 1] = t[1];
    zz[4 * k + 2] = t[2];
    zz[4 * k + 3] = t[3];
  }
  for (int64_t i = 4 * g_end_full; i < end; ++i) {
    float t[4];
    noise4_of<D>(seed, draw, static_cast<uint64_t>(i / 4), t);
    z[i - begin] = t[i % 4];
  }
}

void generate(int64_t begin, int64_t end, uint64_t seed, uint64_t draw, NoiseDist dist, float* z) {
  with_dist(dist, [&](auto d) { generate_range<decltype(d)::value>(begin, end, seed, draw, z); });
}

// Canonical piece sum of squares: lane partials (each lane's elements in ascending order),
// then the fixed lane tree. `v` is indexed by arena element. Large pieces go through a zeroed
// tile buffer and a loop over lanes that vectorizes; elements outside the piece add +0.0,
// which leaves every lane's sum unchanged, so both paths give the same bits.
double piece_sumsq(const float* v, const NoisePiece& pc, float* tile_buf) {
  double lanes[kNoiseLanes] = {};
  if (pc.end - pc.begin < kNoiseTile / 4) {
    for (int64_t i = pc.begin; i < pc.end; ++i) {
      double x = static_cast<double>(v[i]);
      lanes[noise_lane_of(i)] += x * x;  // x * x is exact in double
    }
    return canonical_nan(lane_tree_sum(lanes));
  }
  const int64_t base = static_cast<int64_t>(pc.tile) * kNoiseTile;
  std::fill(tile_buf, tile_buf + kNoiseTile, 0.0f);
  std::memcpy(tile_buf + (pc.begin - base), v + pc.begin, sizeof(float) * (pc.end - pc.begin));
  for (int j = 0; j < kNoiseGroupsPerLane; ++j)
    for (int e = 0; e < 4; ++e)
      for (int l = 0; l < kNoiseLanes; ++l) {
        double x = static_cast<double>(tile_buf[4 * (l + kNoiseLanes * j) + e]);
        lanes[l] += x * x;
      }
  return canonical_nan(lane_tree_sum(lanes));
}

class CpuNoiseBackend final : public NoiseBackend {
 public:
  CpuNoiseBackend(const NoiseLayout& layout, int log_per_tile) : L_(layout), cap_(log_per_tile) {
    size_t nt = static_cast<size_t>(L_.num_tiles());
    counts_.assign(nt, 0);
    pos_.assign(nt * cap_, 0);
    vals_.assign(nt * cap_, 0);
    partials_.assign(L_.pieces.size(), 0.0);
    scales_.assign(L_.segments.size(), 0.0f);
    w_sumsq_.assign(L_.segments.size(), 0.0);
    scratch_.assign(2 * L_.segments.size(), 0.0);
  }

  void sumsq_weights(const float* w, double* out) override {
    const int64_t np = static_cast<int64_t>(L_.pieces.size());
#pragma omp parallel
    {
      std::vector<float> buf(kNoiseTile);
#pragma omp for schedule(static)
      for (int64_t p = 0; p < np; ++p)
        partials_[p] = piece_sumsq(w, L_.pieces[p], buf.data());
    }
    combine_segments(out);
    std::copy(out, out + L_.num_segments(), w_sumsq_.begin());
  }

  void sumsq_noise(uint64_t seed, uint64_t draw, NoiseDist dist, double* out) override {
    const int64_t np = static_cast<int64_t>(L_.pieces.size());
#pragma omp parallel
    {
      std::vector<float> z(kNoiseTile), buf(kNoiseTile);
#pragma omp for schedule(static)
      for (int64_t p = 0; p < np; ++p) {
        const NoisePiece& pc = L_.pieces[p];
        generate(pc.begin, pc.end, seed, draw, dist, z.data());
        partials_[p] = piece_sumsq(z.data() - pc.begin, pc, buf.data());
      }
    }
    combine_segments(out);
  }

  NoiseDrawStats perturb(float* w, const NoiseSpec& spec, uint64_t draw) override {
    spec_ = spec;
    draw_ = draw;
    std::vector<double> z_sumsq(L_.segments.size(), 0.0);
    if (spec.scaling != NoiseScaling::constant)
      sumsq_noise(spec.seed, draw, spec.dist, z_sumsq.data());
    compute_noise_scales(spec.scaling, spec.lambda, w_sumsq_.data(), z_sumsq.data(),
                         L_.num_segments(), scratch_.data(), scales_.data());

    const int nt = L_.num_tiles();
    int64_t logged = 0;
#pragma omp parallel reduction(+ : logged)
    {
      TileBuffers buf;
#pragma omp for schedule(static)
      for (int t = 0; t < nt; ++t)
        logged += perturb_tile(w, t, buf);
    }
    NoiseDrawStats st;
    st.perturbed = L_.selected_numel;
    st.logged = logged;
    fallback_slots_.clear();
    try {
      for (int t = 0; t < nt; ++t)
        if (counts_[t] < 0) fallback_slots_.push_back(t);
      const size_t need = fallback_slots_.size() * kNoiseTile;
      if (fallback_.size() < need) fallback_.resize(need);
    } catch (...) {
      // No room for the overflowing tiles' copies: they are still clean; put the others back
      // so that the weights leave as they came.
      fallback_slots_.clear();
      restore(w);
      throw;
    }
    if (!fallback_slots_.empty()) {
      const int nf = static_cast<int>(fallback_slots_.size());
#pragma omp parallel
      {
        std::vector<float> z(kNoiseTile);
#pragma omp for schedule(static)
        for (int k = 0; k < nf; ++k)
          fallback_perturb_tile(w, fallback_slots_[k], k, z.data());
      }
      st.fallback_tiles = nf;
      for (int t : fallback_slots_)
        st.fallback_elements += tile_extent(t);
    }
    return st;
  }

  void restore(float* w) override {
    const int nt = L_.num_tiles();
#pragma omp parallel
    {
      std::vector<float> z(kNoiseTile);
#pragma omp for schedule(static)
      for (int t = 0; t < nt; ++t)
        restore_tile(w, t, z.data());
    }
    const int nf = static_cast<int>(fallback_slots_.size());
#pragma omp parallel for schedule(static)
    for (int k = 0; k < nf; ++k) {
      int t = fallback_slots_[k];
      int64_t base = static_cast<int64_t>(L_.tiles[t]) * kNoiseTile;
      for (int p = L_.tile_pieces[t]; p < L_.tile_pieces[t + 1]; ++p) {
        const NoisePiece& pc = L_.pieces[p];
        std::memcpy(w + pc.begin, fallback_.data() + k * kNoiseTile + (pc.begin - base),
                    sizeof(float) * (pc.end - pc.begin));
      }
    }
  }

  std::vector<float> scales() const override {
    return scales_;
  }

  NoiseLogSnapshot log_snapshot() const override {
    return {counts_, pos_, vals_};
  }

  size_t extra_bytes() const override {
    return counts_.size() * sizeof(int32_t) + pos_.size() * sizeof(uint16_t) +
           vals_.size() * sizeof(uint32_t) + partials_.size() * sizeof(double) +
           scales_.size() * sizeof(float) + (w_sumsq_.size() + scratch_.size()) * sizeof(double) +
           fallback_.capacity() * sizeof(float) + fallback_slots_.capacity() * sizeof(int);
  }

 private:
  struct TileBuffers {
    float z[kNoiseTile];
    float p[kNoiseTile];
    uint8_t fail[kNoiseTile];
  };

  int64_t tile_extent(int t) const {
    int64_t base = static_cast<int64_t>(L_.tiles[t]) * kNoiseTile;
    return std::min(kNoiseTile, L_.arena_numel - base);
  }

  void combine_segments(double* out) {
    for (int s = 0; s < L_.num_segments(); ++s) {
      int b = L_.segment_pieces[s], e = L_.segment_pieces[s + 1];
      std::vector<double> x(partials_.begin() + b, partials_.begin() + e);
      out[s] = canonical_nan(pairwise_tree_sum(x.data(), static_cast<int64_t>(x.size())));
    }
  }

  // One tile of the perturb pass; returns the number of exceptions logged.
  int64_t perturb_tile(float* w, int t, TileBuffers& buf) {
    const int64_t base = static_cast<int64_t>(L_.tiles[t]) * kNoiseTile;
    int total = 0;
    for (int p = L_.tile_pieces[t]; p < L_.tile_pieces[t + 1]; ++p) {
      const NoisePiece& pc = L_.pieces[p];
      const int64_t r0 = pc.begin - base, n = pc.end - pc.begin;
      float* z = buf.z + r0;
      float* pv = buf.p + r0;
      uint8_t* fl = buf.fail + r0;
      const float* wp = w + pc.begin;
      generate(pc.begin, pc.end, spec_.seed, draw_, spec_.dist, z);
      const float s = scales_[pc.segment];
      int cnt = 0;
      for (int64_t i = 0; i < n; ++i) {
        float d = noise_delta(s, z[i]);
        float pw = apply_delta(wp[i], d);
        pv[i] = pw;
        uint8_t f = fp::bits(remove_delta(pw, d)) != fp::bits(wp[i]);
        fl[i] = f;
        cnt += f;
      }
      total += cnt;
    }
    if (total > cap_) {
      counts_[t] = -1;  // left untouched; the fallback takes it
      return 0;
    }
    if (total > 0) {
      // Log in canonical order (lane, group, element), as the CUDA block scan does.
      int32_t rel[kNoiseTile];
      int k = 0;
      for (int p = L_.tile_pieces[t]; p < L_.tile_pieces[t + 1]; ++p) {
        const NoisePiece& pc = L_.pieces[p];
        for (int64_t i = pc.begin - base; i < pc.end - base; ++i)
          if (buf.fail[i]) rel[k++] = static_cast<int32_t>(i);
      }
      std::sort(rel, rel + k, [](int32_t a, int32_t b) {
        return noise_canonical_rank(a) < noise_canonical_rank(b);
      });
      size_t slot0 = static_cast<size_t>(t) * cap_;
      for (int j = 0; j < k; ++j) {
        pos_[slot0 + j] = static_cast<uint16_t>(rel[j]);
        vals_[slot0 + j] = fp::bits(w[base + rel[j]]);
      }
    }
    for (int p = L_.tile_pieces[t]; p < L_.tile_pieces[t + 1]; ++p) {
      const NoisePiece& pc = L_.pieces[p];
      std::memcpy(w + pc.begin, buf.p + (pc.begin - base), sizeof(float) * (pc.end - pc.begin));
    }
    counts_[t] = total;
    return total;
  }

  // Saves tile t in fallback copy k, then perturbs it (same values as the logged path).
  void fallback_perturb_tile(float* w, int t, int k, float* z) {
    const int64_t base = static_cast<int64_t>(L_.tiles[t]) * kNoiseTile;
    std::memcpy(fallback_.data() + static_cast<size_t>(k) * kNoiseTile, w + base,
                sizeof(float) * tile_extent(t));
    for (int p = L_.tile_pieces[t]; p < L_.tile_pieces[t + 1]; ++p) {
      const NoisePiece& pc = L_.pieces[p];
      generate(pc.begin, pc.end, spec_.seed, draw_, spec_.dist, z);
      const float s = scales_[pc.segment];
      float* wp = w + pc.begin;
      for (int64_t i = 0; i < pc.end - pc.begin; ++i)
        wp[i] = apply_delta(wp[i], noise_delta(s, z[i]));
    }
  }

  void restore_tile(float* w, int t, float* z) {
    if (counts_[t] < 0) return;  // fallback tile: copied back afterwards
    const int64_t base = static_cast<int64_t>(L_.tiles[t]) * kNoiseTile;
    for (int p = L_.tile_pieces[t]; p < L_.tile_pieces[t + 1]; ++p) {
      const NoisePiece& pc = L_.pieces[p];
      generate(pc.begin, pc.end, spec_.seed, draw_, spec_.dist, z);
      const float s = scales_[pc.segment];
      float* wp = w + pc.begin;
      for (int64_t i = 0; i < pc.end - pc.begin; ++i)
        wp[i] = remove_delta(wp[i], noise_delta(s, z[i]));
    }
    size_t slot0 = static_cast<size_t>(t) * cap_;
    for (int j = 0; j < counts_[t]; ++j)
      w[base + pos_[slot0 + j]] = fp::from_bits(vals_[slot0 + j]);
  }

  const NoiseLayout& L_;
  int cap_;
  NoiseSpec spec_;
  uint64_t draw_ = 0;
  std::vector<int32_t> counts_;
  std::vector<uint16_t> pos_;
  std::vector<uint32_t> vals_;
  std::vector<double> partials_, w_sumsq_, scratch_;
  std::vector<float> scales_;
  std::vector<float> fallback_;
  std::vector<int> fallback_slots_;
};

}  // namespace

std::unique_ptr<NoiseBackend> make_cpu_noise_backend(const NoiseLayout& layout, int log_per_tile) {
  return std::make_unique<CpuNoiseBackend>(layout, log_per_tile);
}

void noise_fill_cpu(float* out, int64_t first, int64_t n, uint64_t seed, uint64_t draw,
                    NoiseDist dist) {
  // Chunks of whole tiles so every chunk starts on a group boundary of its own range.
  const int64_t chunks = (n + kNoiseTile - 1) / kNoiseTile;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b = first + c * kNoiseTile, e = std::min(first + n, b + kNoiseTile);
    generate(b, e, seed, draw, dist, out + (b - first));
  }
}

}  // namespace nsal::kernels
