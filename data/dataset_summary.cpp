#include "data/dataset_summary.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "data/convert.h"
#include "data/sha256.h"
#include "nn/hdf5.h"

namespace nsal::data {

FileSummary summarize(const std::string& path) {
  FileSummary s;
  s.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) s.bytes = st.st_size;
  s.info = read_info(path);
  h5::File f = h5::File::open(path);
  s.format_version = f.get_int("format_version");
  if (f.has_attr("created_by")) s.created_by = f.get_string("created_by");
  ReadOptions labels;
  labels.load_x = false;
  const std::vector<std::string> splits = list_splits(path);
  for (const char* need : {"train", "test"})
    NSAL_CHECK_AS(DataError, std::find(splits.begin(), splits.end(), need) != splits.end(),
                  "{}: no '{}' split (a dataset file holds /train and /test)", path, need);
  for (const auto& split : splits) {
    Dataset d = read_dataset(path, split, labels);
    SplitSummary sp;
    sp.name = split;
    sp.count = d.size();
    h5::Group g = f.open_group(split);
    h5::Dataset dy = g.open_dataset("y");
    sp.y_shape = dy.shape();
    sp.y_dtype = h5::type_name(dy.type());
    if (dy.has_attr("sha256")) sp.y_sha256 = dy.get_string("sha256");
    if (d.images_as_files()) {
      sp.files = true;
      sp.count = static_cast<int64_t>(d.files.size());
    } else {
      h5::Dataset dx = g.open_dataset("x");
      sp.x_shape = dx.shape();
      sp.x_dtype = h5::type_name(dx.type());
      if (dx.has_attr("scale")) sp.x_scale = dx.get_double("scale");
      if (dx.has_attr("sha256")) sp.x_sha256 = dx.get_string("sha256");
    }
    if (d.task == Task::regression) {
      const float* y = d.y.data<float>();
      int64_t n = d.y.numel();
      double sum = 0;
      sp.y_min = sp.y_max = n ? y[0] : 0;
      for (int64_t i = 0; i < n; ++i) {
        sum += y[i];
        sp.y_min = std::min<double>(sp.y_min, y[i]);
        sp.y_max = std::max<double>(sp.y_max, y[i]);
      }
      sp.y_mean = n ? sum / n : 0;
    } else {
      sp.class_counts = class_counts(d);
      if (d.task == Task::segmentation) {
        int64_t counted = 0;
        for (int64_t c : sp.class_counts)
          counted += c;
        sp.ignored = d.y.numel() - counted;
      }
    }
    s.splits.push_back(std::move(sp));
  }
  return s;
}

static std::string floats(const std::vector<float>& v) {
  std::string r = "[";
  for (size_t i = 0; i < v.size(); ++i)
    r += fmt::format("{}{:.4f}", i ? ", " : "", v[i]);
  return r + "]";
}

std::string format_summary(const FileSummary& s) {
  const DatasetInfo& i = s.info;
  std::string out;
  out += fmt::format("file: {} ({:.1f} MiB)\n", s.path, s.bytes / 1048576.0);
  out += fmt::format("format: {} version {}{}\n", kFormatName, s.format_version,
                     s.created_by.empty() ? "" : ", written by " + s.created_by);
  out += fmt::format("task: {}", task_name(i.task));
  if (i.task != Task::regression) out += fmt::format(", {} classes", i.num_classes);
  if (i.ignore_index >= 0) out += fmt::format(", ignore label {}", i.ignore_index);
  out += "\n";
  out += "source: " + i.source + "\n";
  if (!i.source_sha256.empty()) {
    out += "source sha256:\n";
    for (const auto& line : split_list(i.source_sha256, '\n'))
      if (!line.empty()) out += "  " + line + "\n";
  }
  if (!i.mean.empty())
    out += fmt::format("normalisation: mean {}, std {}\n", floats(i.mean), floats(i.std));
  if (!i.target_mean.empty())
    out += fmt::format("target: mean {}, std {}\n", floats(i.target_mean), floats(i.target_std));
  if (!i.feature_names.empty())
    out += fmt::format("features: {} ({}{})\n", i.feature_names.size(), i.feature_names[0],
                       i.feature_names.size() > 1 ? ", ..." : "");
  if (!i.image_root.empty())
    out += fmt::format("images kept as files under {} (resize {}, crop {})\n", i.image_root,
                       i.resize, i.crop);
  for (const auto& sp : s.splits) {
    out += fmt::format("{}: {} samples\n", sp.name, sp.count);
    if (sp.files)
      out += "  x: image files\n";
    else
      out += fmt::format("  x: {} {}{}\n", sp.x_dtype, shape_str(sp.x_shape),
                         sp.x_dtype == "uint8" ? " (value / 255 on load)" : "");
    out += fmt::format("  y: {} {}\n", sp.y_dtype, shape_str(sp.y_shape));
    if (!sp.x_sha256.empty()) out += "  x sha256: " + sp.x_sha256 + "\n";
    if (!sp.y_sha256.empty()) out += "  y sha256: " + sp.y_sha256 + "\n";
    if (i.task == Task::regression) {
      out += fmt::format("  target: min {:.6g}, mean {:.6g}, max {:.6g}\n", sp.y_min, sp.y_mean,
                         sp.y_max);
      continue;
    }
    out += i.task == Task::segmentation ? "  pixels per class:" : "  samples per class:";
    for (size_t c = 0; c < sp.class_counts.size(); ++c) {
      std::string name = c < i.class_names.size() ? i.class_names[c] : std::to_string(c);
      out += fmt::format("{}{} {}", c % 5 ? ", " : "\n    ", name, sp.class_counts[c]);
    }
    out += "\n";
    if (i.task == Task::segmentation) out += fmt::format("  ignored pixels: {}\n", sp.ignored);
  }
  return out;
}

std::string array_sha256(const h5::Dataset& d) {
  Shape s = d.shape();
  h5::Type t = d.type();
  int64_t rows = s.empty() ? 1 : s[0];
  int64_t row = s.empty() ? 1 : shape_numel(Shape(s.begin() + 1, s.end()));
  int64_t row_bytes = row * static_cast<int64_t>(h5::type_size(t));
  int64_t block = std::max<int64_t>(1, (int64_t(64) << 20) / std::max<int64_t>(1, row_bytes));
  Sha256 h;
  std::vector<uint8_t> buf;
  for (int64_t r = 0; r < rows; r += block) {
    int64_t k = std::min(block, rows - r);
    buf.resize(static_cast<size_t>(k * row_bytes));
    d.read_rows(r, k, buf.data(), t);
    h.update(buf.data(), buf.size());
  }
  return h.hex();
}

std::vector<std::string> verify_checksums(const std::string& path) {
  std::vector<std::string> bad;
  h5::File f = h5::File::open(path);
  for (const auto& split : list_splits(path)) {
    h5::Group g = f.open_group(split);
    for (const char* name : {"x", "y"}) {
      if (!g.exists(name)) continue;
      h5::Dataset d = g.open_dataset(name);
      if (!d.has_attr("sha256")) {
        bad.push_back(d.path() + ": no recorded sha256");
        continue;
      }
      std::string stored = d.get_string("sha256"), computed = array_sha256(d);
      if (stored != computed)
        bad.push_back(
            fmt::format("{}: recorded sha256 {}, content {}", d.path(), stored, computed));
    }
  }
  return bad;
}

}  // namespace nsal::data
