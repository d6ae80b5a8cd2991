#include "data/dataset_checks.h"

#include <cmath>
#include <limits>

#include "kernels/error.h"

namespace nsal::data {

void check_finite(const float* p, int64_t rows, int64_t row_elems, int64_t row0,
                  const std::string& where) {
  const int64_t n = rows * row_elems;
  // A branch-free count first (vectorised; |v| <= max is false for NaN and +-Inf), then, only
  // when something is wrong, a second pass for the first offender.
  int64_t bad = 0;
#pragma omp simd reduction(+ : bad)
  for (int64_t i = 0; i < n; ++i)
    bad += !(std::fabs(p[i]) <= std::numeric_limits<float>::max());
  if (bad == 0) return;
  int64_t first = 0;
  while (std::isfinite(p[first]))
    ++first;
  float v = p[first];
  throw DataError(fmt::format(
      "{}: {} at sample {} (element {} of {}); {} non-finite value{} in "
      "this block",
      where, std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf"), row0 + first / row_elems,
      first % row_elems, row_elems, bad, bad == 1 ? "" : "s"));
}

void check_labels(const int32_t* p, int64_t rows, int64_t row_elems, int64_t width, int64_t row0,
                  int num_classes, int ignore_index, const std::string& where) {
  int64_t n = rows * row_elems;
  for (int64_t i = 0; i < n; ++i) {
    int32_t v = p[i];
    if ((v >= 0 && v < num_classes) || (ignore_index >= 0 && v == ignore_index)) continue;
    std::string ignore =
        ignore_index >= 0 ? fmt::format(" nor the ignore index {}", ignore_index) : "";
    if (row_elems == 1)
      throw DataError(fmt::format("{}: label {} of sample {} is outside [0, {}){}", where, v,
                                  row0 + i, num_classes, ignore));
    int64_t pix = i % row_elems;
    throw DataError(
        fmt::format("{}: label {} at sample {}, pixel (row {}, column {}) is outside "
                    "[0, {}){}",
                    where, v, row0 + i / row_elems, pix / width, pix % width, num_classes, ignore));
  }
}

}  // namespace nsal::data
