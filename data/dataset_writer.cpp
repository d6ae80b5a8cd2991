#include "data/dataset_writer.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "data/dataset_checks.h"
#include "data/sha256.h"
#include "nn/hdf5.h"

namespace nsal::data {

namespace {

// Chunks of about 64 KiB: one sample per chunk for large images and volumes, so random reads
// fetch little more than they need; a few dozen rows for small images.
constexpr int64_t kChunkBytes = 64 * 1024;

int64_t chunk_rows(int64_t n, int64_t row_bytes) {
  return std::clamp<int64_t>(kChunkBytes / std::max<int64_t>(1, row_bytes), 1,
                             std::max<int64_t>(1, n));
}

// Per-channel sums in double; channel c of a row covers elements [c * inner, (c + 1) * inner).
struct ChannelStats {
  std::vector<double> sum, sumsq;
  int64_t count = 0;  // elements per channel seen
  void reset(int64_t channels) {
    sum.assign(static_cast<size_t>(channels), 0.0);
    sumsq.assign(static_cast<size_t>(channels), 0.0);
    count = 0;
  }
  template <typename T>
  void add(const T* p, int64_t rows, int64_t channels, int64_t inner, double scale) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < channels; ++c) {
        const T* q = p + (r * channels + c) * inner;
        double s = 0, ss = 0;
        for (int64_t i = 0; i < inner; ++i) {
          double v = static_cast<double>(q[i]) * scale;
          s += v;
          ss += v * v;
        }
        sum[static_cast<size_t>(c)] += s;
        sumsq[static_cast<size_t>(c)] += ss;
      }
    count += rows * inner;
  }
  // Population mean and std; a constant channel gets std 1 so normalising never divides by 0.
  void result(std::vector<float>& mean, std::vector<float>& std) const {
    mean.clear();
    std.clear();
    for (size_t c = 0; c < sum.size(); ++c) {
      double m = sum[c] / static_cast<double>(count);
      double var = std::max(0.0, sumsq[c] / static_cast<double>(count) - m * m);
      double s = std::sqrt(var);
      mean.push_back(static_cast<float>(m));
      std.push_back(s > 1e-12 * std::max(1.0, std::fabs(m)) ? static_cast<float>(s) : 1.0f);
    }
  }
};

}  // namespace

struct DatasetWriter::Impl {
  std::string path;
  DatasetInfo info;
  WriteOptions opts;
  h5::AtomicOutput out;
  h5::File file;
  bool finished = false;
  std::map<std::string, bool> splits_done;

  // The split being written.
  std::string split;
  h5::Group group;
  h5::Dataset dx, dy;
  int64_t n = 0, written = 0;
  Shape x_sample, y_sample;
  DType x_dtype = DType::f32, y_dtype = DType::i32;
  bool y_as_u8 = false, files_mode = false;
  std::vector<std::string> files;
  Sha256 hx, hy;
  ChannelStats xstats, ystats;
  bool want_x_stats = false;

  Impl(const std::string& p, DatasetInfo i, const WriteOptions& o)
      : path(p), info(std::move(i)), opts(o), out(p, o.force) {
    file = h5::File::create(out.tmp_path());
  }

  std::string where(const std::string& field) const {
    return fmt::format("{}: /{}/{}", path, split, field);
  }
};

DatasetWriter::DatasetWriter(const std::string& path, DatasetInfo info, const WriteOptions& opts)
    : impl_(std::make_unique<Impl>(path, std::move(info), opts)) {
  const DatasetInfo& i = impl_->info;
  NSAL_CHECK_AS(DataError, i.task == Task::regression || i.num_classes >= 1,
                "{}: a {} dataset needs num_classes >= 1, got {}", path, task_name(i.task),
                i.num_classes);
  NSAL_CHECK_AS(DataError, i.class_names.empty() || (int)i.class_names.size() == i.num_classes,
                "{}: {} class names for {} classes", path, i.class_names.size(), i.num_classes);
  NSAL_CHECK_AS(DataError, i.mean.size() == i.std.size(), "{}: mean has {} values, std has {}",
                path, i.mean.size(), i.std.size());
}

DatasetWriter::~DatasetWriter() = default;  // AtomicOutput removes an unfinished temporary

const std::string& DatasetWriter::path() const {
  return impl_->path;
}
const DatasetInfo& DatasetWriter::info() const {
  return impl_->info;
}

void DatasetWriter::begin_split(const std::string& split, int64_t n, const Shape& x_sample,
                                DType x_dtype, const Shape& y_sample, DType y_dtype) {
  Impl& m = *impl_;
  NSAL_CHECK_AS(DataError, m.split.empty(), "{}: begin_split('{}') while '{}' is open", m.path,
                split, m.split);
  NSAL_CHECK_AS(DataError, !m.splits_done.count(split), "{}: split '{}' written twice", m.path,
                split);
  NSAL_CHECK_AS(DataError, n > 0, "{}: /{}: empty dataset (0 samples)", m.path, split);
  const DatasetInfo& info = m.info;
  bool files_mode = x_sample.empty();
  NSAL_CHECK_AS(DataError, files_mode || x_dtype == DType::u8 || x_dtype == DType::f32,
                "{}: /{}/x: dtype {} (expected uint8 or float32)", m.path, split,
                dtype_name(x_dtype));
  NSAL_CHECK_AS(DataError, !files_mode || (info.crop > 0 && !info.image_root.empty()),
                "{}: images kept as files need image_root and crop", m.path);
  switch (info.task) {
    case Task::classification:
      NSAL_CHECK_AS(DataError, y_sample.empty() && y_dtype == DType::i32,
                    "{}: /{}/y: classification labels are int32 (N), got {} {}", m.path, split,
                    dtype_name(y_dtype), shape_str(y_sample));
      break;
    case Task::segmentation:
      NSAL_CHECK_AS(DataError,
                    y_sample.size() == 2 && y_dtype == DType::i32 && x_sample.size() >= 3 &&
                        y_sample[0] == x_sample[x_sample.size() - 2] &&
                        y_sample[1] == x_sample.back(),
                    "{}: /{}/y: masks must be int32 (N, H, W) matching x's (H, W); x sample {}, "
                    "y sample {} {}",
                    m.path, split, shape_str(x_sample), dtype_name(y_dtype), shape_str(y_sample));
      break;
    case Task::regression:
      NSAL_CHECK_AS(DataError, y_sample.size() <= 1 && y_dtype == DType::f32,
                    "{}: /{}/y: regression targets are float32 (N) or (N, T), got {} {}", m.path,
                    split, dtype_name(y_dtype), shape_str(y_sample));
      break;
  }
  // Given statistics are checked before anything is written (computed ones in finish()).
  if (!info.mean.empty() && !x_sample.empty())
    check_normalisation(info.mean, info.std, x_sample, fmt::format("{}: /{}/std", m.path, split));
  m.split = split;
  m.n = n;
  m.written = 0;
  m.x_sample = x_sample;
  m.y_sample = y_sample;
  m.x_dtype = x_dtype;
  m.y_dtype = y_dtype;
  m.files_mode = files_mode;
  m.files.clear();
  m.hx = Sha256();
  m.hy = Sha256();
  m.y_as_u8 = info.task == Task::segmentation && info.num_classes <= 255 &&
              (info.ignore_index < 0 || info.ignore_index <= 255);
  m.group = m.file.create_group(split);

  Shape xs = {n}, ys = {n};
  xs.insert(xs.end(), x_sample.begin(), x_sample.end());
  ys.insert(ys.end(), y_sample.begin(), y_sample.end());
  if (!files_mode) {
    int64_t row_bytes = shape_numel(x_sample) * static_cast<int64_t>(dtype_size(x_dtype));
    h5::DatasetOptions o{chunk_rows(n, row_bytes), m.opts.deflate, true};
    m.dx = m.group.create_dataset("x", h5::type_of(x_dtype), xs, o);
    m.dx.set_double("scale", x_dtype == DType::u8 ? 1.0 / 255.0 : 1.0);
  }
  h5::Type yt = m.y_as_u8 ? h5::Type::u8 : h5::type_of(y_dtype);
  int64_t y_row_bytes = shape_numel(y_sample) * static_cast<int64_t>(h5::type_size(yt));
  m.dy = m.group.create_dataset("y", yt, ys, {chunk_rows(n, y_row_bytes), m.opts.deflate, true});

  m.want_x_stats = split == "train" && info.mean.empty() && !files_mode;
  if (m.want_x_stats) m.xstats.reset(x_sample[0]);
  if (split == "train" && info.task == Task::regression && info.target_mean.empty())
    m.ystats.reset(y_sample.empty() ? 1 : y_sample[0]);
}

void DatasetWriter::append(const Tensor& x, const Tensor& y) {
  Impl& m = *impl_;
  NSAL_CHECK_AS(DataError, !m.split.empty() && !m.files_mode, "{}: append() outside a split",
                m.path);
  int64_t k = x.defined() && x.ndim() > 0 ? x.dim(0) : 0;
  Shape want_x = {k}, want_y = {k};
  want_x.insert(want_x.end(), m.x_sample.begin(), m.x_sample.end());
  want_y.insert(want_y.end(), m.y_sample.begin(), m.y_sample.end());
  NSAL_CHECK_AS(DataError, x.shape() == want_x && x.dtype() == m.x_dtype && x.is_contiguous(),
                "{}: block is {}, expected {} {}", m.where("x"), x.describe(),
                dtype_name(m.x_dtype), shape_str(want_x));
  NSAL_CHECK_AS(DataError, y.shape() == want_y && y.dtype() == m.y_dtype && y.is_contiguous(),
                "{}: block is {}, expected {} {} (x and y counts must agree)", m.where("y"),
                y.describe(), dtype_name(m.y_dtype), shape_str(want_y));
  NSAL_CHECK_AS(DataError, m.written + k <= m.n, "{}: more than the declared {} samples",
                m.where("x"), m.n);
  if (k == 0) return;
  int64_t x_row = shape_numel(m.x_sample);
  if (m.x_dtype == DType::f32) check_finite(x.data<float>(), k, x_row, m.written, m.where("x"));
  Tensor y_u8;
  const void* y_bytes = y.raw();
  size_t y_nbytes = y.nbytes();
  const DatasetInfo& info = m.info;
  if (info.task == Task::regression) {
    check_finite(y.data<float>(), k, std::max<int64_t>(1, shape_numel(m.y_sample)), m.written,
                 m.where("y"));
  } else {
    int64_t row = shape_numel(m.y_sample);
    int64_t width = m.y_sample.empty() ? 1 : m.y_sample.back();
    check_labels(y.data<int32_t>(), k, row, width, m.written, info.num_classes,
                 info.task == Task::segmentation ? info.ignore_index : -1, m.where("y"));
    if (m.y_as_u8) {
      y_u8 = Tensor(y.shape(), DType::u8);
      const int32_t* s = y.data<int32_t>();
      uint8_t* d = y_u8.data<uint8_t>();
      for (int64_t i = 0; i < y.numel(); ++i)
        d[i] = static_cast<uint8_t>(s[i]);
      y_bytes = y_u8.raw();
      y_nbytes = y_u8.nbytes();
    }
  }
  m.dx.write_rows(m.written, k, x.raw(), h5::type_of(m.x_dtype));
  m.dy.write_rows(m.written, k, y_bytes, m.y_as_u8 ? h5::Type::u8 : h5::type_of(m.y_dtype));
  m.hx.update(x.raw(), x.nbytes());
  m.hy.update(y_bytes, y_nbytes);
  if (m.want_x_stats) {
    int64_t c = m.x_sample[0], inner = x_row / c;
    if (m.x_dtype == DType::u8)
      m.xstats.add(x.data<uint8_t>(), k, c, inner, 1.0 / 255.0);
    else
      m.xstats.add(x.data<float>(), k, c, inner, 1.0);
  }
  if (!m.ystats.sum.empty() && m.split == "train")
    m.ystats.add(y.data<float>(), k, static_cast<int64_t>(m.ystats.sum.size()), 1, 1.0);
  m.written += k;
}

void DatasetWriter::append_files(const std::vector<std::string>& files, const Tensor& y) {
  Impl& m = *impl_;
  NSAL_CHECK_AS(DataError, !m.split.empty() && m.files_mode,
                "{}: append_files() outside a split of image files", m.path);
  int64_t k = static_cast<int64_t>(files.size());
  NSAL_CHECK_AS(DataError, y.shape() == Shape{k} && y.dtype() == DType::i32,
                "{}: {} files but labels {}", m.where("y"), k, y.describe());
  NSAL_CHECK_AS(DataError, m.written + k <= m.n, "{}: more than the declared {} samples",
                m.where("files"), m.n);
  check_labels(y.data<int32_t>(), k, 1, 1, m.written, m.info.num_classes, -1, m.where("y"));
  m.dy.write_rows(m.written, k, y.raw(), h5::Type::i32);
  m.hy.update(y.raw(), y.nbytes());
  m.files.insert(m.files.end(), files.begin(), files.end());
  m.written += k;
}

void DatasetWriter::end_split() {
  Impl& m = *impl_;
  NSAL_CHECK_AS(DataError, !m.split.empty(), "{}: end_split() without begin_split()", m.path);
  NSAL_CHECK_AS(DataError, m.written == m.n, "{}: {} of the declared {} samples were written",
                m.where("x"), m.written, m.n);
  if (m.files_mode) {
    m.group.write_strings("files", m.files);
  } else {
    m.dx.set_string("sha256", m.hx.hex());
  }
  m.dy.set_string("sha256", m.hy.hex());
  if (m.want_x_stats) m.xstats.result(m.info.mean, m.info.std);
  if (!m.ystats.sum.empty() && m.split == "train") {
    m.ystats.result(m.info.target_mean, m.info.target_std);
    m.ystats.sum.clear();
  }
  m.splits_done[m.split] = true;
  m.split.clear();
  m.dx = h5::Dataset();
  m.dy = h5::Dataset();
  m.group = h5::Group();
}

void DatasetWriter::finish() {
  Impl& m = *impl_;
  NSAL_CHECK_AS(DataError, m.split.empty(), "{}: finish() while split '{}' is open", m.path,
                m.split);
  for (const char* s : {"train", "test"})
    NSAL_CHECK_AS(DataError, m.splits_done.count(s), "{}: the '{}' split was not written", m.path,
                  s);
  const DatasetInfo& i = m.info;
  if (!m.x_sample.empty())  // given or computed statistics, checked once more before commit
    check_normalisation(i.mean, i.std, m.x_sample, m.path + ": std");
  h5::File& f = m.file;
  f.set_string("format", kFormatName);
  f.set_int("format_version", kFormatVersion);
  f.set_string("task", task_name(i.task));
  f.set_int("num_classes", i.num_classes);
  f.set_strings("class_names", i.class_names);
  if (!i.feature_names.empty()) f.set_strings("feature_names", i.feature_names);
  f.set_doubles("mean", std::vector<double>(i.mean.begin(), i.mean.end()));
  f.set_doubles("std", std::vector<double>(i.std.begin(), i.std.end()));
  if (i.task == Task::regression) {
    f.set_doubles("target_mean", std::vector<double>(i.target_mean.begin(), i.target_mean.end()));
    f.set_doubles("target_std", std::vector<double>(i.target_std.begin(), i.target_std.end()));
  }
  f.set_int("ignore_index", i.ignore_index);
  f.set_string("source", i.source);
  f.set_string("source_sha256", i.source_sha256);
  f.set_string("x_storage", i.image_root.empty() ? "array" : "files");
  if (!i.image_root.empty()) {
    f.set_string("image_root", i.image_root);
    f.set_int("resize", i.resize);
    f.set_int("crop", i.crop);
  }
  f.set_string("created_by", std::string("nsal ") + NSAL_VERSION);
  f.close();
  m.out.commit();
  m.finished = true;
}

}  // namespace nsal::data
