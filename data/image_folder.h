// Image folders with one subfolder per class (Caltech101, ImageNet layout), JPEG or PNG.
//
// Layouts: root/train/<class>/* and root/test/<class>/* (or root/val/...) give the two splits;
// a plain root/<class>/* is split per class at random (seeded) by test_fraction. Classes are the
// sorted subfolder names; files are taken in sorted order. Images are decoded as RGB, their
// shorter side resized to `resize` and center-cropped to crop x crop (the paper: 256 and 224),
// and stored as uint8 (N, 3, crop, crop); or, when that would exceed max_inline_bytes or
// keep_files is set, kept as files that the loader decodes the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/convert.h"

namespace nsal::data {

struct ImageFolderOptions {
  int resize = 256;
  int crop = 224;
  bool keep_files = false;
  int64_t max_inline_bytes = int64_t(8) << 30;  // decoded size above which files are kept
  double test_fraction = 0.2;                   // for the single-folder layout
  uint64_t seed = 0;
  std::vector<std::string> exclude_classes;  // e.g. Caltech101's BACKGROUND_Google
  int threads = 0;                           // decoding threads (0: OpenMP's default)
};

// The listing a conversion works from: per split, (relative path, label) pairs.
struct ImageFolderListing {
  std::vector<std::string> classes;
  std::vector<std::string> train_files, test_files;  // relative to root
  std::vector<int32_t> train_labels, test_labels;
};
ImageFolderListing list_image_folder(const std::string& root, const ImageFolderOptions& opts);

void convert_image_folder(const std::string& root, const ImageFolderOptions& folder,
                          const ConvertOptions& opts);

}  // namespace nsal::data
