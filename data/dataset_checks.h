// Checks shared by the dataset reader, writer and converters. Each throws DataError whose
// message starts with `where` (file and field) and says which sample is wrong.
#pragma once

#include <cstdint>
#include <string>

namespace nsal::data {

// No NaN or Inf in n rows of row_elems floats; rows are numbered from row0 in messages.
void check_finite(const float* p, int64_t rows, int64_t row_elems, int64_t row0,
                  const std::string& where);

// Every label in [0, num_classes) or equal to ignore_index (when >= 0). row_elems > 1 means
// masks of row_elems pixels each, with `width` pixels per row for the message.
void check_labels(const int32_t* p, int64_t rows, int64_t row_elems, int64_t width, int64_t row0,
                  int num_classes, int ignore_index, const std::string& where);

}  // namespace nsal::data
