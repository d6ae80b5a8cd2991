// IDX files (MNIST, Fashion-MNIST), gzipped or not: the parser and the converter.
#pragma once

#include <cstdint>
#include <string>

#include "data/convert.h"
#include "nn/tensor.h"

namespace nsal::data {

// Parses an IDX file held in memory: magic 00 00 <type> <rank>, rank big-endian uint32
// dimensions, then the data. Unsigned bytes stay uint8; signed integers become int32 and floats
// float32. Throws DataError naming `name` for a wrong magic, a short header, truncated data or
// trailing bytes.
Tensor parse_idx(const uint8_t* data, size_t n, const std::string& name);
// Reads (gunzipping when needed) and parses a file.
Tensor read_idx(const std::string& path);

// One split from an image file (N, rows, cols) of uint8 and a label file (N) of uint8:
// x uint8 (N, 1, rows, cols), y int32 (N). Counts must agree; with num_classes > 0 every label
// must be below it.
Dataset load_idx_split(const std::string& images, const std::string& labels, int num_classes);

struct IdxFiles {
  std::string train_images, train_labels, test_images, test_labels;
};
// The four standard names (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...), each
// with or without .gz, in `dir`; throws naming the one that is missing.
IdxFiles find_idx_files(const std::string& dir);

// Writes the dataset file. class_names: from the options, else `preset` (known_class_names).
void convert_idx(const IdxFiles& files, const ConvertOptions& opts, const std::string& preset);

}  // namespace nsal::data
