#include "data/augment.h"

#include "data/rng.h"

namespace nsal::data {

namespace {
constexpr uint64_t kAugmentKey = 0x5bd1e9955bd1e995ull;  // keeps these streams apart from shuffles
}

AugmentDraw draw_augment(const Augment& a, uint64_t seed, uint64_t epoch, uint64_t index) {
  Rng rng(seed ^ kAugmentKey, (epoch << 36) ^ index);
  AugmentDraw d;
  if (a.crop_padding > 0) {
    d.dy = static_cast<int>(rng.below(static_cast<uint64_t>(2 * a.crop_padding + 1)));
    d.dx = static_cast<int>(rng.below(static_cast<uint64_t>(2 * a.crop_padding + 1)));
  } else {
    d.dy = d.dx = 0;
  }
  d.flip = a.hflip && (rng.next_u32() & 1u);
  return d;
}

void augment_sample(const float* in, float* out, int64_t planes, int64_t h, int64_t w,
                    const AugmentDraw& d, int padding, const std::vector<float>& mean,
                    const std::vector<float>& inv_std) {
  int64_t channels = mean.empty() ? 1 : static_cast<int64_t>(mean.size());
  int64_t per_channel = planes / channels;
  int64_t oy = d.dy - padding, ox = d.dx - padding;  // source = output + offset
  for (int64_t p = 0; p < planes; ++p) {
    float m = mean.empty() ? 0.f : mean[static_cast<size_t>(p / per_channel)];
    float s = inv_std.empty() ? 1.f : inv_std[static_cast<size_t>(p / per_channel)];
    const float* src = in + p * h * w;
    float* dst = out + p * h * w;
    for (int64_t y = 0; y < h; ++y) {
      int64_t sy = y + oy;
      float* row = dst + y * w;
      if (sy < 0 || sy >= h) {
        for (int64_t x = 0; x < w; ++x)
          row[x] = (0.f - m) * s;
        continue;
      }
      const float* srow = src + sy * w;
      for (int64_t x = 0; x < w; ++x) {
        int64_t sx = (d.flip ? w - 1 - x : x) + ox;
        row[x] = ((sx >= 0 && sx < w) ? srow[sx] - m : 0.f - m) * s;
      }
    }
  }
}

void augment_mask(const int32_t* in, int32_t* out, int64_t h, int64_t w, const AugmentDraw& d,
                  int padding, int32_t fill) {
  int64_t oy = d.dy - padding, ox = d.dx - padding;
  for (int64_t y = 0; y < h; ++y) {
    int64_t sy = y + oy;
    for (int64_t x = 0; x < w; ++x) {
      int64_t sx = (d.flip ? w - 1 - x : x) + ox;
      out[y * w + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? in[sy * w + sx] : fill;
    }
  }
}

}  // namespace nsal::data
