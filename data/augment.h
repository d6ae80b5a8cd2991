// Per-sample augmentation and normalisation, as torchvision's RandomCrop(size, padding) +
// RandomHorizontalFlip + Normalize do it: the crop pads with zeros (in data units, before
// normalising), and masks get the same crop and flip, padded with the ignore label.
#pragma once

#include <cstdint>
#include <vector>

namespace nsal::data {

struct Augment {
  int crop_padding = 0;  // random crop of the original size after padding by this many pixels
  bool hflip = false;    // flip left-right with probability 1/2
  bool enabled() const { return crop_padding > 0 || hflip; }
};

// One sample's draw: the crop offset in [0, 2 * padding] per axis and whether to flip.
struct AugmentDraw {
  int dy = 0, dx = 0;
  bool flip = false;
};
AugmentDraw draw_augment(const Augment& a, uint64_t seed, uint64_t epoch, uint64_t index);

// Transforms one sample of `planes` planes of h x w (channel c covers planes
// [c * planes / channels, (c + 1) * planes / channels)): out = (crop_flip(in) - mean[c]) /
// std[c]. mean/std may be empty (no normalisation). in and out must not overlap.
void augment_sample(const float* in, float* out, int64_t planes, int64_t h, int64_t w,
                    const AugmentDraw& d, int padding, const std::vector<float>& mean,
                    const std::vector<float>& inv_std);

// The same crop and flip on an (h, w) mask; pixels from the padding get `fill`.
void augment_mask(const int32_t* in, int32_t* out, int64_t h, int64_t w, const AugmentDraw& d,
                  int padding, int32_t fill);

}  // namespace nsal::data
