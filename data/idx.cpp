#include "data/idx.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/dataset_checks.h"
#include "data/dataset_writer.h"
#include "data/file_bytes.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

int element_size(uint8_t type) {
  switch (type) {
    case 0x08:  // unsigned byte
    case 0x09:  // signed byte
      return 1;
    case 0x0B:  // short
      return 2;
    case 0x0C:  // int
    case 0x0D:  // float
      return 4;
    case 0x0E:  // double
      return 8;
  }
  return 0;
}

template <typename T>
T load_be(const uint8_t* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    v = (v << 8) | p[i];
  T out;
  if constexpr (sizeof(T) == 1) {
    out = static_cast<T>(v);
  } else {
    using U = std::conditional_t<sizeof(T) == 2, uint16_t,
                                 std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
    U u = static_cast<U>(v);
    std::memcpy(&out, &u, sizeof(T));
  }
  return out;
}

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Tensor parse_idx(const uint8_t* data, size_t n, const std::string& name) {
  NSAL_CHECK_AS(DataError, n >= 4, "{}: {} bytes is too short for an IDX header", name, n);
  NSAL_CHECK_AS(DataError, data[0] == 0 && data[1] == 0 && element_size(data[2]) > 0,
                "{}: wrong magic number 0x{:02x}{:02x}{:02x}{:02x}; an IDX file starts with 00 00, "
                "a type code (08 ubyte, 09 byte, 0b short, 0c int, 0d float, 0e double) and the "
                "rank",
                name, data[0], data[1], data[2], data[3]);
  uint8_t type = data[2];
  int rank = data[3];
  NSAL_CHECK_AS(DataError, rank >= 1 && rank <= 8, "{}: rank {} in the magic number (1 to 8)", name,
                rank);
  size_t header = 4 + 4 * static_cast<size_t>(rank);
  NSAL_CHECK_AS(DataError, n >= header, "{}: truncated header ({} bytes, rank {} needs {})", name,
                n, rank, header);
  Shape shape;
  uint64_t count = 1, extent = 1;  // extent ignores zero dimensions, which hide nothing
  for (int i = 0; i < rank; ++i) {
    uint32_t d = be32(data + 4 + 4 * i);
    shape.push_back(d);
    count *= d;
    extent *= std::max<uint64_t>(d, 1);
    NSAL_CHECK_AS(DataError, extent <= (uint64_t(1) << 40),
                  "{}: dimensions {} are implausibly large", name, shape_str(shape));
  }
  size_t esize = static_cast<size_t>(element_size(type));
  uint64_t need = count * esize;
  uint64_t have = n - header;
  NSAL_CHECK_AS(DataError, have >= need,
                "{}: truncated: shape {} needs {} bytes of data, the file has {} ({} samples "
                "complete)",
                name, shape_str(shape), need, have,
                shape[0] ? have / (need / std::max<uint64_t>(1, shape[0])) : 0);
  NSAL_CHECK_AS(DataError, have == need, "{}: {} trailing bytes after the data of shape {}", name,
                have - need, shape_str(shape));
  const uint8_t* p = data + header;
  int64_t cnt = static_cast<int64_t>(count);
  switch (type) {
    case 0x08: {
      Tensor t(shape, DType::u8, Device::cpu(), "IDX data");
      if (cnt) std::memcpy(t.raw(), p, static_cast<size_t>(cnt));
      return t;
    }
    case 0x09:
    case 0x0B:
    case 0x0C: {
      Tensor t(shape, DType::i32, Device::cpu(), "IDX data");
      int32_t* o = t.data<int32_t>();
      for (int64_t i = 0; i < cnt; ++i)
        o[i] = type == 0x09   ? load_be<int8_t>(p + i)
               : type == 0x0B ? load_be<int16_t>(p + 2 * i)
                              : load_be<int32_t>(p + 4 * i);
      return t;
    }
    default: {
      Tensor t(shape, DType::f32, Device::cpu(), "IDX data");
      float* o = t.data<float>();
      for (int64_t i = 0; i < cnt; ++i)
        o[i] = type == 0x0D ? load_be<float>(p + 4 * i)
                            : static_cast<float>(load_be<double>(p + 8 * i));
      check_finite(o, shape[0], shape[0] ? cnt / shape[0] : 0, 0, name);
      return t;
    }
  }
}

Tensor read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_idx(bytes.data(), bytes.size(), path);
}

Dataset load_idx_split(const std::string& images, const std::string& labels, int num_classes) {
  Tensor x = read_idx(images);
  Tensor l = read_idx(labels);
  NSAL_CHECK_AS(DataError, x.ndim() == 3 && x.dtype() == DType::u8,
                "{}: images must be unsigned bytes of rank 3 (N, rows, cols), got {}", images,
                x.describe());
  NSAL_CHECK_AS(DataError, l.ndim() == 1 && l.dtype() == DType::u8,
                "{}: labels must be unsigned bytes of rank 1 (N), got {}", labels, l.describe());
  NSAL_CHECK_AS(DataError, x.dim(0) == l.dim(0),
                "{} holds {} images but {} holds {} labels (counts disagree)", images, x.dim(0),
                labels, l.dim(0));
  NSAL_CHECK_AS(DataError, x.dim(0) > 0, "{}: empty dataset (0 images)", images);
  Dataset d;
  d.task = Task::classification;
  d.x = x.reshaped({x.dim(0), 1, x.dim(1), x.dim(2)}).clone();
  d.y = l.to_dtype(DType::i32);
  if (num_classes > 0)
    check_labels(d.y.data<int32_t>(), d.y.numel(), 1, 1, 0, num_classes, -1, labels);
  return d;
}

IdxFiles find_idx_files(const std::string& dir) {
  auto find = [&](const char* stem) {
    const std::string plain = dir + "/" + stem, gz = plain + ".gz";
    NSAL_CHECK_AS(DataError, !(file_exists(plain) && file_exists(gz)),
                  "{}: both {} and {}.gz: which one? Move the other away", dir, stem, stem);
    if (file_exists(plain)) return plain;
    if (file_exists(gz)) return gz;
    throw DataError(fmt::format("{}: no {} or {}.gz", dir, stem, stem));
  };
  return {find("train-images-idx3-ubyte"), find("train-labels-idx1-ubyte"),
          find("t10k-images-idx3-ubyte"), find("t10k-labels-idx1-ubyte")};
}

void convert_idx(const IdxFiles& files, const ConvertOptions& opts, const std::string& preset) {
  Dataset train = load_idx_split(files.train_images, files.train_labels, opts.num_classes);
  Dataset test = load_idx_split(files.test_images, files.test_labels, opts.num_classes);
  NSAL_CHECK_AS(DataError,
                train.x.shape()[2] == test.x.shape()[2] && train.x.shape()[3] == test.x.shape()[3],
                "{} images are {}x{} but {} images are {}x{}", files.train_images, train.x.dim(2),
                train.x.dim(3), files.test_images, test.x.dim(2), test.x.dim(3));
  DatasetInfo info;
  info.task = Task::classification;
  info.num_classes =
      opts.num_classes > 0 ? opts.num_classes : infer_num_classes({&train.y, &test.y});
  info.class_names = known_class_names(preset);
  NSAL_CHECK_AS(DataError, preset.empty() || (int)info.class_names.size() == info.num_classes,
                "--class-names {}: {} names, but {} has {} classes", preset,
                info.class_names.size(), files.train_labels, info.num_classes);
  SourceRecord src("idx");
  for (const auto& p :
       {files.train_images, files.train_labels, files.test_images, files.test_labels})
    src.add(p);
  src.apply(info);
  apply_overrides(opts, info);
  DatasetWriter w(opts.output, info, {opts.force, opts.deflate});
  for (Dataset* d : {&train, &test}) {
    const char* split = d == &train ? "train" : "test";
    w.begin_split(split, d->x.dim(0), {1, d->x.dim(2), d->x.dim(3)}, DType::u8, {}, DType::i32);
    w.append(d->x, d->y);
    w.end_split();
  }
  w.finish();
}

}  // namespace nsal::data
