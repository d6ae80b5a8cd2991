// What `nsal data info` shows about a dataset file: shapes, dtypes, classes, counts per class,
// checksums; and a check of the stored content checksums.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace nsal::data {

struct SplitSummary {
  std::string name;
  int64_t count = 0;
  bool files = false;  // images kept as files
  Shape x_shape, y_shape;
  std::string x_dtype, y_dtype;  // as stored
  double x_scale = 1.0;
  std::vector<int64_t> class_counts;        // classification: samples; segmentation: pixels
  int64_t ignored = 0;                      // segmentation: pixels with ignore_index
  double y_min = 0, y_max = 0, y_mean = 0;  // regression
  std::string x_sha256, y_sha256;
};

struct FileSummary {
  std::string path;
  int64_t bytes = 0;
  int64_t format_version = 0;
  std::string created_by;
  DatasetInfo info;
  std::vector<SplitSummary> splits;
};

// Reads metadata and labels only (not the images) and checks them as read_dataset does.
FileSummary summarize(const std::string& path);
std::string format_summary(const FileSummary& s);

// Recomputes the SHA-256 of every stored array and compares it with the recorded one; returns
// the arrays that differ ("/train/x: stored ..., computed ..."), empty when all agree.
std::vector<std::string> verify_checksums(const std::string& path);
// SHA-256 of a stored array read back in blocks of rows, in its stored element type: what the
// dataset writer records in the array's `sha256` attribute.
std::string array_sha256(const h5::Dataset& d);

}  // namespace nsal::data
