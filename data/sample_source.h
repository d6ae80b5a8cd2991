// Random access to the samples of one split, for the loader: a dataset in memory, a dataset file
// read in chunks when it does not fit in memory, or images kept as files and decoded on read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"

namespace nsal::data {

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t size() const = 0;
  const Shape& x_shape() const { return x_shape_; }  // one sample: (C, H, W), (C, D, H, W), (F)
  const Shape& y_shape() const { return y_shape_; }  // one label: () classes, (H, W) masks, (T)
  DType y_dtype() const { return y_dtype_; }         // int32, or float32 for regression
  const DatasetInfo& info() const { return info_; }
  // Copies samples idx[0..n) into x, float32 (n, x_shape...) in data units (uint8 images scaled
  // to [0, 1]), and y (n, y_shape...) of y_dtype(). Safe to call from several threads at once.
  virtual void read(const int64_t* idx, int64_t n, float* x, void* y) const = 0;
  // Where the samples come from, for messages ("file.h5: /train").
  virtual std::string name() const = 0;

 protected:
  Shape x_shape_, y_shape_;
  DType y_dtype_ = DType::i32;
  DatasetInfo info_;
};

// A dataset in memory (x float32 or uint8). The borrowing form needs `d` to outlive the source.
std::shared_ptr<const SampleSource> memory_source(const Dataset& d);
std::shared_ptr<const SampleSource> memory_source(Dataset&& d);

struct SourceOptions {
  int64_t memory_budget = int64_t(4) << 30;  // x as stored (uint8 stays uint8) must fit in this
  bool chunked = false;                      // read from the file even when it would fit
  int64_t chunk_cache = int64_t(64) << 20;   // HDF5 chunk cache for chunked reads, per array
};

// One split of a dataset file: loaded into memory when it fits the budget, else read in chunks
// (HDF5 hyperslabs) as batches are drawn; images kept as files are decoded (resized and cropped)
// as they are read.
std::shared_ptr<const SampleSource> open_source(const std::string& path, const std::string& split,
                                                const SourceOptions& opts = {});

}  // namespace nsal::data
