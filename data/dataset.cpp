#include "data/dataset.h"

#include <algorithm>
#include <cmath>

#include "data/dataset_checks.h"
#include "data/dataset_writer.h"
#include "nn/hdf5.h"

namespace nsal::data {

const char* task_name(Task t) {
  switch (t) {
    case Task::classification:
      return "classification";
    case Task::regression:
      return "regression";
    case Task::segmentation:
      return "segmentation";
  }
  return "?";
}

Task parse_task(const std::string& s) {
  if (s == "classification") return Task::classification;
  if (s == "regression") return Task::regression;
  if (s == "segmentation") return Task::segmentation;
  throw DataError("unknown task '" + s + "' (classification, regression or segmentation)");
}

int64_t Dataset::size() const {
  if (images_as_files()) return static_cast<int64_t>(files.size());
  if (x.defined() && x.ndim() > 0) return x.dim(0);
  return y.ndim() > 0 ? y.dim(0) : 0;
}

Shape Dataset::sample_shape() const {
  if (images_as_files()) return {3, crop, crop};
  NSAL_CHECK_AS(DataError, x.ndim() >= 2, "{}: no x array loaded", where("x"));
  return Shape(x.shape().begin() + 1, x.shape().end());
}

int64_t Dataset::channels() const {
  return sample_shape()[0];
}

int64_t Dataset::num_outputs() const {
  if (task != Task::regression) return num_classes;
  return y.ndim() > 1 ? y.dim(1) : 1;
}

std::string Dataset::where(const std::string& field) const {
  std::string f = split.empty() ? field : split + "/" + field;
  return file.empty() ? f : file + ": /" + f;
}

// The label checks, against x's count n and sample shape xs.
static void check_y(const Dataset& d, int64_t n, const Shape& xs) {
  NSAL_CHECK_AS(DataError, d.y.defined() && d.y.ndim() >= 1, "{}: missing", d.where("y"));
  NSAL_CHECK_AS(DataError, d.y.dim(0) == n, "{}: {} labels for {} samples in x (counts disagree)",
                d.where("y"), d.y.dim(0), n);
  switch (d.task) {
    case Task::classification:
      NSAL_CHECK_AS(DataError, d.y.ndim() == 1 && d.y.dtype() == DType::i32,
                    "{}: classification labels must be int32 (N), got {}", d.where("y"),
                    d.y.describe());
      NSAL_CHECK_AS(DataError, d.num_classes >= 1, "{}: num_classes is {}", d.where("y"),
                    d.num_classes);
      check_labels(d.y.data<int32_t>(), n, 1, 1, 0, d.num_classes, -1, d.where("y"));
      break;
    case Task::segmentation:
      NSAL_CHECK_AS(DataError,
                    d.y.ndim() == 3 && d.y.dtype() == DType::i32 && xs.size() == 3 &&
                        d.y.dim(1) == xs[1] && d.y.dim(2) == xs[2],
                    "{}: masks must be int32 (N, H, W) matching x samples {}, got {}", d.where("y"),
                    shape_str(xs), d.y.describe());
      NSAL_CHECK_AS(DataError, d.num_classes >= 1, "{}: num_classes is {}", d.where("y"),
                    d.num_classes);
      check_labels(d.y.data<int32_t>(), n, d.y.dim(1) * d.y.dim(2), d.y.dim(2), 0, d.num_classes,
                   d.ignore_index, d.where("y"));
      break;
    case Task::regression:
      NSAL_CHECK_AS(DataError, (d.y.ndim() == 1 || d.y.ndim() == 2) && d.y.dtype() == DType::f32,
                    "{}: regression targets must be float32 (N) or (N, T), got {}", d.where("y"),
                    d.y.describe());
      check_finite(d.y.data<float>(), n, d.y.numel() / n, 0, d.where("y"));
      break;
  }
  NSAL_CHECK_AS(DataError, d.class_names.empty() || (int)d.class_names.size() == d.num_classes,
                "{}: {} class names for {} classes", d.where("class_names"), d.class_names.size(),
                d.num_classes);
  check_normalisation(d.mean, d.std, xs, d.where("std"));
}

void check_normalisation(const std::vector<float>& mean, const std::vector<float>& std,
                         const Shape& sample, const std::string& where) {
  NSAL_CHECK_AS(DataError, mean.size() == std.size(), "{}: mean has {} values, std has {}", where,
                mean.size(), std.size());
  if (mean.empty()) return;
  NSAL_CHECK_AS(DataError, !sample.empty() && static_cast<int64_t>(mean.size()) == sample[0],
                "{}: {} normalisation values for samples of shape {} (one per channel)", where,
                mean.size(), shape_str(sample));
  for (size_t i = 0; i < std.size(); ++i)
    NSAL_CHECK_AS(DataError, std::isfinite(mean[i]) && std::isfinite(std[i]) && std[i] > 0,
                  "{}: channel {} has mean {} and std {} (std must be finite and > 0)", where, i,
                  mean[i], std[i]);
}

void validate(const Dataset& d) {
  int64_t n = d.size();
  NSAL_CHECK_AS(DataError, n > 0, "{}: empty dataset (0 samples)", d.where("x"));
  if (!d.images_as_files()) {
    NSAL_CHECK_AS(DataError, d.x.defined() && d.x.ndim() >= 1, "{}: missing", d.where("x"));
    NSAL_CHECK_AS(DataError, d.x.dtype() == DType::f32 || d.x.dtype() == DType::u8,
                  "{}: dtype {} (expected float32 or uint8)", d.where("x"),
                  dtype_name(d.x.dtype()));
    int nd = d.x.ndim();
    NSAL_CHECK_AS(DataError, nd == 2 || nd == 4 || nd == 5,
                  "{}: shape {}; expected (N, F), (N, C, H, W) or (N, C, D, H, W)", d.where("x"),
                  shape_str(d.x.shape()));
    if (d.x.dtype() == DType::f32)
      check_finite(d.x.data<float>(), n, d.x.numel() / n, 0, d.where("x"));
  }
  check_y(d, n, d.sample_shape());
}

// ------------------------------------------------------------------------------------- Reading

double stored_x_scale(const h5::Dataset& dx) {
  constexpr double kByte = 1.0 / 255.0;  // the attribute's value; kUint8Scale is what is used
  const bool bytes = dx.type() == h5::Type::u8;
  if (!dx.has_attr("scale")) return bytes ? kUint8Scale : 1.0;
  const double scale = dx.get_double("scale");
  NSAL_CHECK_AS(DataError, std::isfinite(scale) && scale > 0, "{}",
                dx.where(fmt::format("scale {} must be finite and > 0", scale)));
  NSAL_CHECK_AS(DataError, !bytes || std::fabs(scale - kByte) <= 1e-6 * kByte, "{}",
                dx.where(fmt::format("scale {} on uint8 images; they are stored as v / 255, so "
                                     "scale must be 1/255",
                                     scale)));
  return bytes ? kUint8Scale : scale;
}

static std::vector<float> to_floats(const std::vector<double>& v) {
  return std::vector<float>(v.begin(), v.end());
}

static DatasetInfo read_info(const h5::File& f) {
  NSAL_CHECK_AS(DataError, f.has_attr("format") && f.get_string("format") == kFormatName,
                "{}: not an nsal dataset file (the root has no format = \"{}\" attribute)",
                f.file(), kFormatName);
  int64_t version = f.get_int("format_version");
  NSAL_CHECK_AS(DataError, version >= 1 && version <= kFormatVersion,
                "{}: format_version {} (this nsal reads up to {})", f.file(), version,
                kFormatVersion);
  DatasetInfo i;
  try {
    i.task = parse_task(f.get_string("task"));
  } catch (const DataError& e) {
    throw DataError(f.where(e.what()));
  }
  int64_t nc = f.get_int("num_classes");
  NSAL_CHECK_AS(DataError, nc >= 0 && nc <= (1 << 24), "{}",
                f.where(fmt::format("num_classes {} is out of range", nc)));
  i.num_classes = static_cast<int>(nc);
  i.class_names = f.get_strings("class_names");
  if (f.has_attr("feature_names")) i.feature_names = f.get_strings("feature_names");
  i.mean = to_floats(f.get_doubles("mean"));
  i.std = to_floats(f.get_doubles("std"));
  if (f.has_attr("target_mean")) i.target_mean = to_floats(f.get_doubles("target_mean"));
  if (f.has_attr("target_std")) i.target_std = to_floats(f.get_doubles("target_std"));
  i.ignore_index = static_cast<int>(f.get_int("ignore_index"));
  i.source = f.get_string("source");
  i.source_sha256 = f.get_string("source_sha256");
  std::string storage = f.get_string("x_storage");
  NSAL_CHECK_AS(DataError, storage == "array" || storage == "files", "{}",
                f.where("x_storage is '" + storage + "' (array or files)"));
  if (storage == "files") {
    i.image_root = f.get_string("image_root");
    i.resize = static_cast<int>(f.get_int("resize"));
    i.crop = static_cast<int>(f.get_int("crop"));
    NSAL_CHECK_AS(
        DataError, i.crop > 0 && i.crop <= 65536 && i.resize >= 0, "{}",
        f.where(fmt::format("resize {} and crop {} are not valid sizes", i.resize, i.crop)));
  }
  return i;
}

DatasetInfo read_info(const std::string& path) {
  return read_info(h5::File::open(path));
}

std::vector<std::string> list_splits(const std::string& path) {
  h5::File f = h5::File::open(path);
  read_info(f);
  std::vector<std::string> out;
  for (const auto& name : f.children()) {
    h5::Group g = f.open_group(name);
    if (g.exists("y")) out.push_back(name);
  }
  // train, then test, then any others (sorted).
  std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& s) { return s == "train" ? 0 : s == "test" ? 1 : 2; };
    return rank(a) < rank(b);
  });
  return out;
}

Dataset read_dataset(const std::string& path, const std::string& split, const ReadOptions& opts) {
  h5::File f = h5::File::open(path);
  Dataset d;
  static_cast<DatasetInfo&>(d) = read_info(f);
  d.file = path;
  d.split = split;
  if (!f.exists(split)) {
    std::string have;
    for (const auto& c : f.children())
      have += (have.empty() ? "" : ", ") + c;
    throw DataError(fmt::format("{}: /{}: missing split (the file has: {})", path, split, have));
  }
  h5::Group g = f.open_group(split);
  if (!d.image_root.empty()) {
    d.files = g.read_strings("files");
  } else if (opts.load_x) {
    h5::Dataset dx = g.open_dataset("x");
    h5::Type t = dx.type();
    const double scale = stored_x_scale(dx);
    if (t == h5::Type::u8 && !opts.x_as_float) {
      d.x = dx.read_tensor(DType::u8);
    } else if (t == h5::Type::u8) {
      Tensor raw = dx.read_tensor(DType::u8);
      d.x = Tensor(raw.shape(), DType::f32, Device::cpu(), "dataset x");
      const uint8_t* s = raw.data<uint8_t>();
      float* o = d.x.data<float>();
      float sc = static_cast<float>(scale);
      for (int64_t i = 0; i < raw.numel(); ++i)
        o[i] = static_cast<float>(s[i]) * sc;
    } else {
      NSAL_CHECK_AS(DataError, t == h5::Type::f32 || t == h5::Type::f64, "{}",
                    dx.where(std::string("element type ") + h5::type_name(t) +
                             " (expected uint8 or float32)"));
      d.x = dx.read_tensor(DType::f32);
      if (scale != 1.0) {
        float* o = d.x.data<float>();
        for (int64_t i = 0; i < d.x.numel(); ++i)
          o[i] *= static_cast<float>(scale);
      }
    }
  }
  h5::Dataset dy = g.open_dataset("y");
  d.y = dy.read_tensor(d.task == Task::regression ? DType::f32 : DType::i32);
  if (d.task != Task::regression) {
    h5::Type t = dy.type();
    NSAL_CHECK_AS(DataError, t != h5::Type::f32 && t != h5::Type::f64, "{}",
                  dy.where("labels are stored as floating point; expected integers"));
  }
  if (opts.validate) {
    if (opts.load_x || d.images_as_files()) {
      validate(d);
    } else {  // labels only: check them against the stored x shape
      Shape xs = g.open_dataset("x").shape();
      int64_t n = xs.empty() ? 0 : xs[0];
      NSAL_CHECK_AS(DataError, n > 0, "{}: empty dataset (0 samples)", d.where("x"));
      check_y(d, n, Shape(xs.begin() + 1, xs.end()));
    }
  }
  return d;
}

// ------------------------------------------------------------------------------------- Writing

static void write_split(DatasetWriter& w, const Dataset& d) {
  validate(d);
  Shape y_sample(d.y.shape().begin() + 1, d.y.shape().end());
  if (d.images_as_files()) {
    w.begin_split(d.split, d.size(), {}, DType::u8, y_sample, d.y.dtype());
    w.append_files(d.files, d.y);
  } else {
    w.begin_split(d.split, d.size(), d.sample_shape(), d.x.dtype(), y_sample, d.y.dtype());
    w.append(d.x, d.y);
  }
  w.end_split();
}

void write_dataset(const std::string& path, const Dataset& train, const Dataset& test,
                   const WriteOptions& opts) {
  NSAL_CHECK_AS(DataError, train.task == test.task && train.num_classes == test.num_classes,
                "{}: train ({}, {} classes) and test ({}, {} classes) disagree", path,
                task_name(train.task), train.num_classes, task_name(test.task), test.num_classes);
  NSAL_CHECK_AS(DataError, train.sample_shape() == test.sample_shape(),
                "{}: train samples are {}, test samples {}", path, shape_str(train.sample_shape()),
                shape_str(test.sample_shape()));
  DatasetWriter w(path, static_cast<const DatasetInfo&>(train), opts);
  auto as_split = [](const Dataset& d, const char* name) {
    Dataset v;
    static_cast<DatasetInfo&>(v) = d;
    v.split = name;
    v.x = d.x.defined() && d.x.numel() > 0
              ? Tensor::view(d.x.raw(), d.x.shape(), d.x.dtype(), d.x.device())
              : Tensor();
    v.y = Tensor::view(d.y.raw(), d.y.shape(), d.y.dtype(), d.y.device());
    v.files = d.files;
    return v;
  };
  write_split(w, as_split(train, "train"));
  write_split(w, as_split(test, "test"));
  w.finish();
}

void compute_normalisation(DatasetInfo& info, const Tensor& x) {
  NSAL_CHECK_AS(DataError, x.ndim() >= 2 && x.dim(0) > 0 && x.is_contiguous(),
                "compute_normalisation: x is {}", x.describe());
  int64_t n = x.dim(0), c = x.dim(1), inner = x.numel() / (n * c);
  std::vector<double> sum(static_cast<size_t>(c), 0), sumsq(static_cast<size_t>(c), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < inner; ++k) {
        int64_t idx = (i * c + ch) * inner + k;
        double v = x.dtype() == DType::u8 ? x.data<uint8_t>()[idx] / 255.0 : x.data<float>()[idx];
        sum[static_cast<size_t>(ch)] += v;
        sumsq[static_cast<size_t>(ch)] += v * v;
      }
  info.mean.clear();
  info.std.clear();
  double cnt = static_cast<double>(n * inner);
  for (int64_t ch = 0; ch < c; ++ch) {
    double m = sum[static_cast<size_t>(ch)] / cnt;
    double sd = std::sqrt(std::max(0.0, sumsq[static_cast<size_t>(ch)] / cnt - m * m));
    info.mean.push_back(static_cast<float>(m));
    info.std.push_back(sd > 1e-12 * std::max(1.0, std::fabs(m)) ? static_cast<float>(sd) : 1.0f);
  }
}

std::vector<int64_t> class_counts(const Dataset& d) {
  std::vector<int64_t> counts(static_cast<size_t>(std::max(0, d.num_classes)), 0);
  if (d.task == Task::regression) return counts;
  const int32_t* p = d.y.data<int32_t>();
  for (int64_t i = 0; i < d.y.numel(); ++i)
    if (p[i] >= 0 && p[i] < d.num_classes) ++counts[static_cast<size_t>(p[i])];
  return counts;
}

}  // namespace nsal::data
