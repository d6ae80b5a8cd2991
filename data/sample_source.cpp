#include "data/sample_source.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "data/dataset_checks.h"
#include "data/image.h"
#include "nn/hdf5.h"

namespace nsal::data {

namespace {

void set_shapes(const Dataset& d, Shape& xs, Shape& ys, DType& yt) {
  xs = d.sample_shape();
  ys.assign(d.y.shape().begin() + 1, d.y.shape().end());
  yt = d.y.dtype();
}

class MemorySource : public SampleSource {
 public:
  MemorySource(const Dataset* borrowed, std::unique_ptr<Dataset> owned)
      : owned_(std::move(owned)), d_(owned_ ? owned_.get() : borrowed) {
    NSAL_CHECK_AS(DataError, !d_->images_as_files(), "{}: images kept as files need open_source()",
                  d_->where("files"));
    validate(*d_);
    set_shapes(*d_, x_shape_, y_shape_, y_dtype_);
    info_ = *d_;
    x_row_ = shape_numel(x_shape_);
    y_row_ = shape_numel(y_shape_);
  }
  int64_t size() const override { return d_->size(); }
  std::string name() const override {
    return d_->file.empty() ? d_->split + " (in memory)" : d_->file + ": /" + d_->split;
  }
  void read(const int64_t* idx, int64_t n, float* x, void* y) const override {
    size_t ysz = dtype_size(y_dtype_) * static_cast<size_t>(y_row_);
    for (int64_t k = 0; k < n; ++k) {
      int64_t i = idx[k];
      NSAL_CHECK_AS(DataError, i >= 0 && i < size(), "{}: sample index {} outside [0, {})", name(),
                    i, size());
      float* o = x + k * x_row_;
      if (d_->x.dtype() == DType::u8) {
        const uint8_t* s = d_->x.data<uint8_t>() + i * x_row_;
        for (int64_t j = 0; j < x_row_; ++j)
          o[j] = static_cast<float>(s[j]) * kUint8Scale;
      } else {
        std::memcpy(o, d_->x.data<float>() + i * x_row_, sizeof(float) * x_row_);
      }
      std::memcpy(static_cast<char*>(y) + k * ysz, static_cast<const char*>(d_->y.raw()) + i * ysz,
                  ysz);
    }
  }

 private:
  std::unique_ptr<Dataset> owned_;
  const Dataset* d_;
  int64_t x_row_ = 0, y_row_ = 0;
};

// Reads rows from the file as they are asked for, merging runs of consecutive indices into one
// hyperslab. HDF5 (the thread-safe build) serialises the calls itself.
class ChunkedSource : public SampleSource {
 public:
  ChunkedSource(const std::string& path, const std::string& split, Dataset labels_only,
                int64_t cache)
      : path_(path), split_(split) {
    file_ = h5::File::open(path);
    h5::Group g = file_.open_group(split);
    x_ = g.open_dataset("x", static_cast<size_t>(cache));
    y_ = g.open_dataset("y", static_cast<size_t>(cache / 8));
    x_type_ = x_.type();
    scale_ = static_cast<float>(stored_x_scale(x_));
    Shape xs = x_.shape();
    n_ = xs[0];
    x_shape_.assign(xs.begin() + 1, xs.end());
    y_shape_.assign(labels_only.y.shape().begin() + 1, labels_only.y.shape().end());
    y_dtype_ = labels_only.task == Task::regression ? DType::f32 : DType::i32;
    info_ = labels_only;
    x_row_ = shape_numel(x_shape_);
    y_row_ = shape_numel(y_shape_);
  }
  int64_t size() const override { return n_; }
  std::string name() const override { return path_ + ": /" + split_; }
  void read(const int64_t* idx, int64_t n, float* x, void* y) const override {
    // Sorted order, runs of consecutive rows read at once, then placed where asked.
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return idx[a] < idx[b]; });
    size_t ysz = dtype_size(y_dtype_) * static_cast<size_t>(y_row_);
    std::vector<uint8_t> xbuf, ybuf;
    for (int64_t s = 0; s < n;) {
      int64_t first = idx[order[static_cast<size_t>(s)]];
      NSAL_CHECK_AS(DataError, first >= 0 && first < n_, "{}: sample index {} outside [0, {})",
                    name(), first, n_);
      int64_t e = s + 1;
      while (e < n &&
             idx[order[static_cast<size_t>(e)]] - idx[order[static_cast<size_t>(e - 1)]] <= 1)
        ++e;
      // Rows [first, last] cover order[s..e) (duplicates allowed).
      int64_t last = idx[order[static_cast<size_t>(e - 1)]];
      NSAL_CHECK_AS(DataError, last < n_, "{}: sample index {} outside [0, {})", name(), last, n_);
      int64_t rows = last - first + 1;
      h5::Type xt = x_type_ == h5::Type::u8 ? h5::Type::u8 : h5::Type::f32;
      xbuf.resize(static_cast<size_t>(rows * x_row_) * h5::type_size(xt));
      ybuf.resize(static_cast<size_t>(rows) * ysz);
      x_.read_rows(first, rows, xbuf.data(), xt);
      y_.read_rows(first, rows, ybuf.data(), h5::type_of(y_dtype_));
      for (int64_t k = s; k < e; ++k) {
        int64_t dst = order[static_cast<size_t>(k)], r = idx[dst] - first;
        float* o = x + dst * x_row_;
        if (xt == h5::Type::u8) {
          const uint8_t* p = xbuf.data() + r * x_row_;
          for (int64_t j = 0; j < x_row_; ++j)
            o[j] = static_cast<float>(p[j]) * scale_;
        } else {
          const float* p = reinterpret_cast<const float*>(xbuf.data()) + r * x_row_;
          for (int64_t j = 0; j < x_row_; ++j)
            o[j] = p[j] * scale_;
        }
        std::memcpy(static_cast<char*>(y) + dst * ysz, ybuf.data() + r * ysz, ysz);
      }
      s = e;
    }
    // Checks the block as the reader checks whole splits.
    if (x_type_ != h5::Type::u8) check_finite(x, n, x_row_, 0, name() + "/x (batch)");
    if (y_dtype_ == DType::f32) {
      check_finite(static_cast<const float*>(y), n, y_row_, 0, name() + "/y (batch)");
      return;
    }
    const int32_t* labels = static_cast<const int32_t*>(y);
    for (int64_t i = 0; i < n * y_row_; ++i) {
      int32_t v = labels[i];
      NSAL_CHECK_AS(
          DataError,
          (v >= 0 && v < info_.num_classes) || (info_.ignore_index >= 0 && v == info_.ignore_index),
          "{}/y: label {} of sample {} is outside [0, {})", name(), v,
          idx[i / std::max<int64_t>(1, y_row_)], info_.num_classes);
    }
  }

 private:
  std::string path_, split_;
  h5::File file_;
  h5::Dataset x_, y_;
  h5::Type x_type_ = h5::Type::f32;
  float scale_ = 1.f;
  int64_t n_ = 0, x_row_ = 0, y_row_ = 0;
};

// Images kept as files: decoded, resized and center-cropped on every read.
class ImageFileSource : public SampleSource {
 public:
  explicit ImageFileSource(Dataset d) : d_(std::move(d)) {
    validate(d_);
    set_shapes(d_, x_shape_, y_shape_, y_dtype_);
    info_ = d_;
  }
  int64_t size() const override { return d_.size(); }
  std::string name() const override { return d_.file + ": /" + d_.split; }
  void read(const int64_t* idx, int64_t n, float* x, void* y) const override {
    int64_t row = shape_numel(x_shape_);
    std::vector<uint8_t> planes(static_cast<size_t>(row));
    for (int64_t k = 0; k < n; ++k) {
      int64_t i = idx[k];
      NSAL_CHECK_AS(DataError, i >= 0 && i < size(), "{}: sample index {} outside [0, {})", name(),
                    i, size());
      load_image_planes(d_.image_root + "/" + d_.files[static_cast<size_t>(i)], d_.resize, d_.crop,
                        planes.data());
      for (int64_t j = 0; j < row; ++j)
        x[k * row + j] = static_cast<float>(planes[static_cast<size_t>(j)]) * kUint8Scale;
      static_cast<int32_t*>(y)[k] = d_.y.data<int32_t>()[i];
    }
  }

 private:
  Dataset d_;
};

}  // namespace

std::shared_ptr<const SampleSource> memory_source(const Dataset& d) {
  return std::make_shared<MemorySource>(&d, nullptr);
}

std::shared_ptr<const SampleSource> memory_source(Dataset&& d) {
  return std::make_shared<MemorySource>(nullptr, std::make_unique<Dataset>(std::move(d)));
}

std::shared_ptr<const SampleSource> open_source(const std::string& path, const std::string& split,
                                                const SourceOptions& opts) {
  ReadOptions labels;
  labels.load_x = false;
  Dataset d = read_dataset(path, split, labels);  // metadata and labels, checked
  if (d.images_as_files()) return std::make_shared<ImageFileSource>(std::move(d));
  h5::File f = h5::File::open(path);
  h5::Dataset x = f.open_group(split).open_dataset("x");
  int64_t stored = x.numel() * static_cast<int64_t>(h5::type_size(x.type()));
  if (!opts.chunked && stored <= opts.memory_budget) {
    ReadOptions ro;
    ro.x_as_float = false;  // uint8 images stay bytes in memory; the loader scales them
    return memory_source(read_dataset(path, split, ro));
  }
  return std::make_shared<ChunkedSource>(path, split, std::move(d), opts.chunk_cache);
}

}  // namespace nsal::data
