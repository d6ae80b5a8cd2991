#include "data/image_folder.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>

#include "data/dataset_writer.h"
#include "data/file_bytes.h"
#include "data/image.h"
#include "data/rng.h"
#include "kernels/error.h"

namespace fs = std::filesystem;

namespace nsal::data {

namespace {

bool is_image_name(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<std::string> sorted_subdirs(const fs::path& p) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(p)) {
    const std::string name = e.path().filename().string();
    // Hidden folders (.ipynb_checkpoints, .git, ...) are never classes.
    if (e.is_directory() && !name.empty() && name[0] != '.') out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Image files directly in root/rel (sorted), as paths relative to root.
std::vector<std::string> images_in(const fs::path& root, const std::string& rel) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(root / rel))
    if (e.is_regular_file() && is_image_name(e.path().filename().string()))
      out.push_back(rel + "/" + e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool excluded(const ImageFolderOptions& o, const std::string& c) {
  return std::find(o.exclude_classes.begin(), o.exclude_classes.end(), c) !=
         o.exclude_classes.end();
}

}  // namespace

ImageFolderListing list_image_folder(const std::string& root_str, const ImageFolderOptions& o) {
  fs::path root(root_str);
  NSAL_CHECK_AS(DataError, fs::is_directory(root), "{}: not a folder", root_str);
  ImageFolderListing l;
  bool split_layout = fs::is_directory(root / "train") &&
                      (fs::is_directory(root / "test") || fs::is_directory(root / "val"));
  {
    // Every class asked to be left out must exist: a misspelt one would be left in.
    std::vector<std::string> present = sorted_subdirs(split_layout ? root / "train" : root);
    for (const char* test_dir : {"test", "val"})
      if (split_layout && fs::is_directory(root / test_dir))
        for (const std::string& c : sorted_subdirs(root / test_dir))
          present.push_back(c);
    for (const std::string& c : o.exclude_classes)
      NSAL_CHECK_AS(DataError, std::find(present.begin(), present.end(), c) != present.end(),
                    "{}: --exclude {}: no such class folder (in train/ or the test split)",
                    root_str, c);
  }
  if (split_layout) {
    NSAL_CHECK_AS(DataError, !(fs::is_directory(root / "test") && fs::is_directory(root / "val")),
                  "{}: both test/ and val/: which one is the test split? Move the other away",
                  root_str);
    std::string test_dir = fs::is_directory(root / "test") ? "test" : "val";
    for (const auto& c : sorted_subdirs(root / "train"))
      if (!excluded(o, c)) l.classes.push_back(c);
    for (const auto& c : sorted_subdirs(root / test_dir))
      NSAL_CHECK_AS(
          DataError,
          excluded(o, c) || std::find(l.classes.begin(), l.classes.end(), c) != l.classes.end(),
          "{}/{}/{}: a class that train/ does not have", root_str, test_dir, c);
    for (size_t k = 0; k < l.classes.size(); ++k) {
      NSAL_CHECK_AS(DataError, !images_in(root, "train/" + l.classes[k]).empty(),
                    "{}/train/{}: a class folder with no JPEG or PNG images", root_str,
                    l.classes[k]);
      for (const auto& f : images_in(root, "train/" + l.classes[k])) {
        l.train_files.push_back(f);
        l.train_labels.push_back(static_cast<int32_t>(k));
      }
      if (fs::is_directory(root / test_dir / l.classes[k]))
        for (const auto& f : images_in(root, test_dir + "/" + l.classes[k])) {
          l.test_files.push_back(f);
          l.test_labels.push_back(static_cast<int32_t>(k));
        }
    }
  } else {
    NSAL_CHECK_AS(DataError, o.test_fraction > 0 && o.test_fraction < 1,
                  "{}: --test-fraction {} must be in (0, 1) to split a single folder", root_str,
                  o.test_fraction);
    for (const auto& c : sorted_subdirs(root))
      if (!excluded(o, c)) l.classes.push_back(c);
    for (size_t k = 0; k < l.classes.size(); ++k) {
      std::vector<std::string> files = images_in(root, l.classes[k]);
      NSAL_CHECK_AS(DataError, !files.empty(), "{}/{}: a class folder with no JPEG or PNG images",
                    root_str, l.classes[k]);
      // Per class: a seeded shuffle, the first round(fraction * n) go to test (at least one when
      // the class has two or more images).
      Rng rng(o.seed, k);
      std::vector<size_t> order(files.size());
      for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
      shuffle(order, rng);
      size_t n_test = static_cast<size_t>(std::lround(o.test_fraction * files.size()));
      if (files.size() >= 2) n_test = std::clamp<size_t>(n_test, 1, files.size() - 1);
      std::vector<bool> is_test(files.size(), false);
      for (size_t i = 0; i < n_test; ++i)
        is_test[order[i]] = true;
      for (size_t i = 0; i < files.size(); ++i) {
        (is_test[i] ? l.test_files : l.train_files).push_back(files[i]);
        (is_test[i] ? l.test_labels : l.train_labels).push_back(static_cast<int32_t>(k));
      }
    }
  }
  NSAL_CHECK_AS(DataError, !l.classes.empty(), "{}: no class subfolders", root_str);
  NSAL_CHECK_AS(DataError, !l.train_files.empty(), "{}: empty dataset (no training images)",
                root_str);
  NSAL_CHECK_AS(DataError, !l.test_files.empty(), "{}: empty dataset (no test images)", root_str);
  return l;
}

void convert_image_folder(const std::string& root, const ImageFolderOptions& fo,
                          const ConvertOptions& opts) {
  NSAL_CHECK_AS(DataError,
                fo.crop > 0 && fo.resize >= 0 && (fo.resize == 0 || fo.resize >= fo.crop),
                "image sizes: resize {} and crop {} (need crop > 0 and resize 0 or >= crop)",
                fo.resize, fo.crop);
  ImageFolderListing l = list_image_folder(root, fo);
  int64_t n_total = static_cast<int64_t>(l.train_files.size() + l.test_files.size());
  int64_t decoded = n_total * 3 * fo.crop * fo.crop;
  bool keep = fo.keep_files || decoded > fo.max_inline_bytes;
  DatasetInfo info;
  info.task = Task::classification;
  info.num_classes = static_cast<int>(l.classes.size());
  info.class_names = l.classes;
  SourceRecord src("imagefolder");
  src.note(fs::absolute(root).string());
  src.note(fmt::format("{} images, resize {}, crop {}", n_total, fo.resize, fo.crop));
  src.apply(info);  // hashing every image would cost as much as decoding them: no checksums
  if (keep) {
    info.image_root = fs::absolute(root).string();
    info.resize = fo.resize;
    info.crop = fo.crop;
    // Without decoding there are no statistics: the usual ImageNet values (override with
    // --mean/--std).
    info.mean = {0.485f, 0.456f, 0.406f};
    info.std = {0.229f, 0.224f, 0.225f};
    if (!fo.keep_files)
      opts.note(
          fmt::format("decoded images would take {:.1f} GiB (> {:.1f} GiB): keeping them "
                      "as files; the loader decodes them",
                      decoded / 1073741824.0, fo.max_inline_bytes / 1073741824.0));
  }
  apply_overrides(opts, info);
  DatasetWriter w(opts.output, info, {opts.force, opts.deflate});
  const int64_t block = 256;
  for (int s = 0; s < 2; ++s) {
    const auto& files = s == 0 ? l.train_files : l.test_files;
    const auto& labels = s == 0 ? l.train_labels : l.test_labels;
    int64_t n = static_cast<int64_t>(files.size());
    const char* split = s == 0 ? "train" : "test";
    if (keep) {
      // Check that every file is there and looks like an image; decoding waits for the loader.
      for (const auto& f : files) {
        std::string p = root + "/" + f;
        std::vector<uint8_t> head = read_head(p, 8);
        bool jpeg = head.size() >= 2 && head[0] == 0xFF && head[1] == 0xD8;
        bool png = head.size() >= 8 && head[0] == 0x89 && head[1] == 'P' && head[2] == 'N';
        NSAL_CHECK_AS(DataError, jpeg || png, "{}: neither a JPEG nor a PNG file", p);
      }
      w.begin_split(split, n, {}, DType::u8, {}, DType::i32);
      Tensor y({n}, DType::i32);
      std::copy(labels.begin(), labels.end(), y.data<int32_t>());
      w.append_files(files, y);
      w.end_split();
      continue;
    }
    w.begin_split(split, n, {3, fo.crop, fo.crop}, DType::u8, {}, DType::i32);
    int64_t plane = 3 * int64_t(fo.crop) * fo.crop;
    for (int64_t b0 = 0; b0 < n; b0 += block) {
      int64_t k = std::min(block, n - b0);
      Tensor x({k, 3, fo.crop, fo.crop}, DType::u8, Device::cpu(), "decoded images");
      Tensor y({k}, DType::i32);
      std::vector<std::exception_ptr> errors(static_cast<size_t>(k));
      int threads = fo.threads > 0 ? fo.threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
      for (int64_t i = 0; i < k; ++i) {
        try {
          load_image_planes(root + "/" + files[b0 + i], fo.resize, fo.crop,
                            x.data<uint8_t>() + i * plane);
        } catch (...) {
          errors[static_cast<size_t>(i)] = std::current_exception();
        }
      }
      for (auto& e : errors)
        if (e) std::rethrow_exception(e);
      for (int64_t i = 0; i < k; ++i)
        y.data<int32_t>()[i] = labels[b0 + i];
      w.append(x, y);
      opts.note(fmt::format("{}: {}/{} images", split, b0 + k, n));
    }
    w.end_split();
  }
  w.finish();
}

}  // namespace nsal::data
