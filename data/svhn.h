// SVHN's cropped-digit .mat files (train_32x32.mat, test_32x32.mat), read with libmatio:
// X is uint8 (32, 32, 3, N) in MATLAB's column-major order and y is (N, 1) with labels 1..10,
// where 10 means the digit 0.
#pragma once

#include <string>

#include "data/convert.h"

namespace nsal::data {

// One file into x uint8 (N, 3, 32, 32) and y int32 (N) with labels 0..9.
Dataset load_svhn_mat(const std::string& path);

// dir holds train_32x32.mat and test_32x32.mat (the extra set is not used, as in the paper).
void convert_svhn(const std::string& dir, const ConvertOptions& opts);

}  // namespace nsal::data
