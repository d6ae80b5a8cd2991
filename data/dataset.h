// One split (train or test) of a dataset in memory, and its HDF5 file format (docs/data-format.md).
//
// dtype rules: x is float32, or uint8 for 8-bit image sources, where a stored value v means
// v / 255 (the file records this as x's `scale` attribute). read_dataset() converts uint8 to
// float32 unless asked to keep the bytes. Class labels are int32; segmentation masks are int32 in
// memory and uint8 in the file (when every id fits); regression targets are float32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/tensor.h"

namespace nsal::h5 {
class Dataset;
}  // namespace nsal::h5

namespace nsal::data {

enum class Task { classification, regression, segmentation };
const char* task_name(Task t);
Task parse_task(const std::string& s);  // throws DataError for an unknown name

constexpr int kFormatVersion = 1;
constexpr const char* kFormatName = "nsal-dataset";

// What a dataset file says about itself; the same for both splits.
struct DatasetInfo {
  Task task = Task::classification;
  int num_classes = 0;                         // 0 for regression
  std::vector<std::string> class_names;        // num_classes names, or empty
  std::vector<std::string> feature_names;      // tabular data: one name per column of x
  std::vector<float> mean, std;                // per channel of x (in [0, 1] units for images)
  std::vector<float> target_mean, target_std;  // regression: per target, over the train split
  int ignore_index = -1;                       // segmentation label not scored (255), or -1
  std::string source;         // where the data came from ("idx: train-images-idx3-ubyte.gz, ...")
  std::string source_sha256;  // "<sha256>  <file>" lines, as sha256sum prints them
  // Images kept as files (too large to decode up front): the loader decodes `files` from
  // image_root, resizes the shorter side to `resize` and center-crops `crop` x `crop`.
  std::string image_root;
  int resize = 0, crop = 0;

  // Regression: target j's statistics, mean 0 and std 1 where the file has none. Models learn
  // (y - mean) / std and predict in those units; y = output * std + mean.
  float target_mean_of(int64_t j) const {
    return j < static_cast<int64_t>(target_mean.size()) ? target_mean[static_cast<size_t>(j)]
                                                        : 0.0f;
  }
  float target_std_of(int64_t j) const {
    return j < static_cast<int64_t>(target_std.size()) ? target_std[static_cast<size_t>(j)] : 1.0f;
  }
};

struct Dataset : DatasetInfo {
  std::string file;   // the file it was read from ("" when built in memory); for messages
  std::string split;  // "train" or "test"
  Tensor x;  // float32 or uint8: (N, C, H, W) | (N, C, D, H, W) | (N, F); undefined for files
  Tensor y;  // int32 (N) classes | int32 (N, H, W) masks | float32 (N) or (N, T) targets
  std::vector<std::string> files;  // images kept as files: N paths relative to image_root

  int64_t size() const;
  bool images_as_files() const { return !files.empty(); }
  Shape sample_shape() const;  // x's shape without N; (3, crop, crop) for files
  int64_t channels() const;    // sample_shape()[0]
  // What a model for this data outputs per sample: its classes, or for regression its targets
  // (T of (N, T) targets, 1 of (N)).
  int64_t num_outputs() const;
  // "file.h5: /train/y" (or "train/y" in memory): prefix for error messages about `field`.
  std::string where(const std::string& field) const;
};

// Checks what the format promises: N > 0, x and y counts agree, shapes fit the task, labels in
// [0, num_classes) (or ignore_index), no NaN or Inf in float data, normalisation of the right
// length with std > 0. Throws DataError naming the file and the field.
void validate(const Dataset& d);

// The normalisation rule validate() applies: as many means as stds, one per channel (samples'
// first dimension), all finite, every std > 0. `where` prefixes the error ("file.h5: /train/std").
void check_normalisation(const std::vector<float>& mean, const std::vector<float>& std,
                         const Shape& sample, const std::string& where);

// What a stored uint8 image value v means: v * kUint8Scale. Every reader scales by this one
// constant, so the in-memory, chunked and image-file sources give the same floats.
constexpr float kUint8Scale = 1.0f / 255.0f;

// The factor a stored x value is multiplied by when read: 1/255 for uint8 images (a `scale`
// attribute, when present, must say 1/255), else the `scale` attribute (1 when absent), finite
// and > 0. Throws DataError naming the file and the attribute.
double stored_x_scale(const h5::Dataset& x);

struct ReadOptions {
  bool x_as_float = true;  // false keeps uint8 images as bytes (the loader converts per batch)
  bool load_x = true;      // false reads labels and metadata only (nsal data info)
  bool validate = true;
};

Dataset read_dataset(const std::string& path, const std::string& split,
                     const ReadOptions& opts = {});
// A split as the Loader takes it: uint8 images stay bytes (a quarter of the memory of float32;
// the loader scales each batch to the same values read_dataset's conversion gives).
inline Dataset read_for_loader(const std::string& path, const std::string& split) {
  ReadOptions o;
  o.x_as_float = false;
  return read_dataset(path, split, o);
}
std::vector<std::string> list_splits(const std::string& path);  // groups holding x or files
DatasetInfo read_info(const std::string& path);

struct WriteOptions {
  bool force = false;  // overwrite an existing file
  int deflate = 0;     // gzip level for the arrays (0: none)
};

// Writes both splits (their DatasetInfo must agree) atomically: the file appears only when
// complete. mean/std are computed over train when train.mean is empty and x is an image array.
void write_dataset(const std::string& path, const Dataset& train, const Dataset& test,
                   const WriteOptions& opts = {});

// Per-channel mean and population std of x in [0, 1] units (channel = dimension 1; a constant
// channel gets std 1), as the writer computes them; for datasets built in memory.
void compute_normalisation(DatasetInfo& info, const Tensor& x);

// Per-class sample counts of a classification split (pixel counts for segmentation, ignoring
// ignore_index).
std::vector<int64_t> class_counts(const Dataset& d);

}  // namespace nsal::data
