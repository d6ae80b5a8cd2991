// Writes a dataset file block by block, so converters never hold more than a block in memory.
// Every block is checked as it arrives (labels in range, finite floats); normalisation statistics
// and content checksums are accumulated on the way. The file appears (temp file, then rename)
// only when finish() succeeds; an exception or a destructor before that leaves nothing behind.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace nsal::data {

class DatasetWriter {
 public:
  DatasetWriter(const std::string& path, DatasetInfo info, const WriteOptions& opts);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // Declares a split of n samples. x_dtype is u8 (images, v / 255) or f32; y_dtype is i32
  // (classes, masks) or f32 (regression targets). With images kept as files, pass an empty
  // x_sample; append_files() then gives the paths.
  void begin_split(const std::string& split, int64_t n, const Shape& x_sample, DType x_dtype,
                   const Shape& y_sample, DType y_dtype);
  // The next rows of the current split, in order: x (k, x_sample...), y (k, y_sample...).
  void append(const Tensor& x, const Tensor& y);
  void append_files(const std::vector<std::string>& files, const Tensor& y);
  void end_split();  // checks that all n rows arrived
  // Computes what was left to compute (mean/std over train when info.mean was empty), writes
  // the file's attributes and makes the file appear under its name.
  void finish();

  const std::string& path() const;
  const DatasetInfo& info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nsal::data
