#include "data/cityscapes.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <filesystem>

#include "data/dataset_writer.h"
#include "data/image.h"
#include "kernels/error.h"

namespace fs = std::filesystem;

namespace nsal::data {

namespace {

const char* kImageSuffix = "_leftImg8bit.png";
const char* kLabelSuffix = "_gtFine_labelIds.png";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const std::array<uint8_t, 256>& cityscapes_train_ids() {
  static const std::array<uint8_t, 256> table = [] {
    std::array<uint8_t, 256> t{};
    t.fill(255);
    // From the benchmark's labels.py: id -> trainId for the 19 evaluated classes.
    const int pairs[19][2] = {{7, 0},   {8, 1},   {11, 2},  {12, 3},  {13, 4},  {17, 5},  {19, 6},
                              {20, 7},  {21, 8},  {22, 9},  {23, 10}, {24, 11}, {25, 12}, {26, 13},
                              {27, 14}, {28, 15}, {31, 16}, {32, 17}, {33, 18}};
    for (const auto& p : pairs)
      t[static_cast<size_t>(p[0])] = static_cast<uint8_t>(p[1]);
    return t;
  }();
  return table;
}

const std::vector<std::string>& cityscapes_class_names() {
  static const std::vector<std::string> names = {
      "road",         "sidewalk",   "building", "wall",       "fence",  "pole",  "traffic light",
      "traffic sign", "vegetation", "terrain",  "sky",        "person", "rider", "car",
      "truck",        "bus",        "train",    "motorcycle", "bicycle"};
  return names;
}

std::vector<std::pair<std::string, std::string>> list_cityscapes(const std::string& root,
                                                                 const std::string& split) {
  fs::path img_dir = fs::path(root) / "leftImg8bit" / split;
  NSAL_CHECK_AS(DataError, fs::is_directory(img_dir),
                "{}: missing (expected the Cityscapes layout leftImg8bit/{}/<city>/)",
                img_dir.string(), split);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& city : fs::directory_iterator(img_dir)) {
    if (!city.is_directory()) continue;
    std::string c = city.path().filename().string();
    for (const auto& f : fs::directory_iterator(city.path())) {
      std::string name = f.path().filename().string();
      if (!f.is_regular_file() || !ends_with(name, kImageSuffix)) continue;
      std::string stem = name.substr(0, name.size() - std::string(kImageSuffix).size());
      std::string img = "leftImg8bit/" + split + "/" + c + "/" + name;
      std::string lab = "gtFine/" + split + "/" + c + "/" + stem + kLabelSuffix;
      NSAL_CHECK_AS(DataError, fs::is_regular_file(fs::path(root) / lab),
                    "{}/{}: no label map {} for this image", root, img, lab);
      out.emplace_back(img, lab);
    }
  }
  std::sort(out.begin(), out.end());
  NSAL_CHECK_AS(DataError, !out.empty(), "{}: empty dataset (no *{} images)", img_dir.string(),
                kImageSuffix);
  return out;
}

void convert_cityscapes(const std::string& root, const CityscapesOptions& co,
                        const ConvertOptions& opts) {
  NSAL_CHECK_AS(DataError, co.width > 0 && co.height > 0, "Cityscapes size {}x{}", co.width,
                co.height);
  auto train = list_cityscapes(root, "train");
  auto test = list_cityscapes(root, "val");
  DatasetInfo info;
  info.task = Task::segmentation;
  info.num_classes = 19;
  info.class_names = cityscapes_class_names();
  info.ignore_index = 255;
  SourceRecord src("cityscapes");
  src.note(fs::absolute(root).string());
  src.note(fmt::format("{} train and {} val pairs, resized to {}x{}", train.size(), test.size(),
                       co.width, co.height));
  src.apply(info);
  apply_overrides(opts, info);
  const auto& ids = cityscapes_train_ids();
  DatasetWriter w(opts.output, info, {opts.force, opts.deflate});
  const int64_t block = 32;
  int64_t hw = int64_t(co.height) * co.width;
  for (int s = 0; s < 2; ++s) {
    const auto& pairs = s == 0 ? train : test;
    int64_t n = static_cast<int64_t>(pairs.size());
    const char* split = s == 0 ? "train" : "test";
    w.begin_split(split, n, {3, co.height, co.width}, DType::u8, {co.height, co.width}, DType::i32);
    for (int64_t b0 = 0; b0 < n; b0 += block) {
      int64_t k = std::min(block, n - b0);
      Tensor x({k, 3, co.height, co.width}, DType::u8, Device::cpu(), "Cityscapes images");
      Tensor y({k, co.height, co.width}, DType::i32, Device::cpu(), "Cityscapes masks");
      std::vector<std::exception_ptr> errors(static_cast<size_t>(k));
      int threads = co.threads > 0 ? co.threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
      for (int64_t i = 0; i < k; ++i) {
        try {
          const auto& [img_rel, lab_rel] = pairs[static_cast<size_t>(b0 + i)];
          std::string img_path = root + "/" + img_rel, lab_path = root + "/" + lab_rel;
          Image img = read_image_rgb(img_path);
          Image lab = read_png_labels(lab_path);
          NSAL_CHECK_AS(DataError, img.height == lab.height && img.width == lab.width,
                        "{} is {}x{} but its label map {} is {}x{}", img_path, img.width,
                        img.height, lab_path, lab.width, lab.height);
          if (img.height != co.height || img.width != co.width) {
            img = resize_bilinear(img, co.height, co.width);
            lab = resize_nearest(lab, co.height, co.width);
          }
          to_planes(img, x.data<uint8_t>() + i * 3 * hw);
          int32_t* m = y.data<int32_t>() + i * hw;
          for (int64_t p = 0; p < hw; ++p)
            m[p] = ids[lab.pixels[static_cast<size_t>(p)]];
        } catch (...) {
          errors[static_cast<size_t>(i)] = std::current_exception();
        }
      }
      for (auto& e : errors)
        if (e) std::rethrow_exception(e);
      w.append(x, y);
      opts.note(fmt::format("{}: {}/{} image pairs", split, b0 + k, n));
    }
    w.end_split();
  }
  w.finish();
}

}  // namespace nsal::data
