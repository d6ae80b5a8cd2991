// Synthetic datasets, seeded and reproducible on every machine (counter-based random numbers:
// sample i depends only on the seed, the split and i, whatever the thread count).
//
// - cryoet: subtomograms in the spirit of the paper's 50c-snr003 set (docs/data-format.md says
//   how they are made): 32^3 single-channel volumes, one 3-D density template per class (a set
//   of Gaussian blobs in a class-specific arrangement), a random rotation and shift per sample,
//   and Gaussian noise at a chosen SNR (signal variance over noise variance).
// - images, regression, segmentation: small sets for tests and demos.
#pragma once

#include <cstdint>
#include <string>

#include "data/convert.h"

namespace nsal::data {

struct CryoEtOptions {
  int classes = 50;
  int64_t train_per_class = 480;  // the paper's set: 24000 train and 1000 test samples
  int64_t test_per_class = 20;
  int size = 32;      // volumes are size^3
  double snr = 0.03;  // var(signal) / var(noise), per sample
  int min_blobs = 4, max_blobs = 8;
  double max_shift = 2.0;  // voxels, uniform per axis
  uint64_t seed = 0;
};

// One split in memory: x float32 (N, 1, size, size, size), y int32 (N); samples cycle through
// the classes (sample i has class i % classes).
Dataset synth_cryoet(const CryoEtOptions& o, const std::string& split);
// The class templates without noise, rotation or shift: float32 (classes, 1, size, size, size).
Tensor cryoet_templates(const CryoEtOptions& o);
// Both splits to a file, block by block.
void write_synth_cryoet(const CryoEtOptions& o, const ConvertOptions& out);

struct SynthOptions {
  int64_t train = 1000, test = 200;
  int classes = 4;  // images and segmentation
  int size = 16;    // images are size x size
  int channels = 1;
  int features = 8;    // regression
  double noise = 0.1;  // standard deviation of the additive noise
  uint64_t seed = 0;
};

// Classification: float32 (N, channels, size, size); class k is a fixed pattern of three 2-D
// Gaussian blobs, shifted by up to 2 pixels per sample, plus noise.
Dataset synth_images(const SynthOptions& o, const std::string& split);
// Regression: x ~ N(0, 1) of shape (N, features), y = sin(2 x0) + 0.5 x1^2 + w . x + noise.
Dataset synth_regression(const SynthOptions& o, const std::string& split);
// Segmentation: float32 (N, channels, size, size) images of rectangles (class 1, 3, ...) and
// discs (class 2, 4, ...) over background 0, each class with its own brightness, plus noise;
// y int32 (N, size, size).
Dataset synth_segmentation(const SynthOptions& o, const std::string& split);

enum class SynthKind { images, regression, segmentation };
void write_synth(SynthKind kind, const SynthOptions& o, const ConvertOptions& out);

}  // namespace nsal::data
