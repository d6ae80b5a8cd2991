#include "data/cifar.h"

#include <sys/stat.h>

#include <cstring>

#include "data/dataset_writer.h"
#include "data/file_bytes.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

constexpr int64_t kImageBytes = 3 * 32 * 32;

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

int classes_of(CifarKind kind, bool coarse) {
  return kind == CifarKind::cifar10 ? 10 : (coarse ? 20 : 100);
}

}  // namespace

void parse_cifar(const uint8_t* data, size_t n, CifarKind kind, bool use_coarse,
                 const std::string& name, Dataset& out) {
  int64_t label_bytes = kind == CifarKind::cifar10 ? 1 : 2;
  int64_t record = label_bytes + kImageBytes;
  int64_t size = static_cast<int64_t>(n);
  NSAL_CHECK_AS(DataError, size > 0, "{}: empty file (no records)", name);
  NSAL_CHECK_AS(DataError, size % record == 0,
                "{}: {} bytes is not a whole number of {}-byte {} records: the last record is cut "
                "short after {} bytes (truncated file, or not {})",
                name, size, record, kind == CifarKind::cifar10 ? "CIFAR-10" : "CIFAR-100",
                size % record, kind == CifarKind::cifar10 ? "CIFAR-10" : "CIFAR-100");
  int64_t count = size / record;
  int classes = classes_of(kind, use_coarse);
  int label_at = kind == CifarKind::cifar10 ? 0 : (use_coarse ? 0 : 1);
  out.task = Task::classification;
  out.num_classes = classes;
  out.x = Tensor({count, 3, 32, 32}, DType::u8, Device::cpu(), "CIFAR images");
  out.y = Tensor({count}, DType::i32);
  uint8_t* x = out.x.data<uint8_t>();
  int32_t* y = out.y.data<int32_t>();
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* r = data + i * record;
    int label = r[label_at];
    NSAL_CHECK_AS(DataError, label < classes,
                  "{}: record {} has label {}, outside [0, {}) (wrong --format?)", name, i, label,
                  classes);
    if (kind == CifarKind::cifar100) {
      int other = r[1 - label_at];
      NSAL_CHECK_AS(DataError, other < classes_of(kind, !use_coarse),
                    "{}: record {} has {} label {}, outside [0, {})", name, i,
                    use_coarse ? "fine" : "coarse", other, classes_of(kind, !use_coarse));
    }
    y[i] = label;
    std::memcpy(x + i * kImageBytes, r + label_bytes, kImageBytes);
  }
}

void convert_cifar(const std::string& dir, CifarKind kind, bool use_coarse,
                   const ConvertOptions& opts) {
  std::vector<std::string> train_files, test_files;
  if (kind == CifarKind::cifar10) {
    for (int i = 1; i <= 5; ++i)
      train_files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
    test_files.push_back(dir + "/test_batch.bin");
  } else {
    train_files.push_back(dir + "/train.bin");
    test_files.push_back(dir + "/test.bin");
  }
  for (const auto* list : {&train_files, &test_files})
    for (const auto& f : *list)
      NSAL_CHECK_AS(DataError, file_exists(f), "{}: missing (expected the {} binary batches)", f,
                    kind == CifarKind::cifar10 ? "CIFAR-10" : "CIFAR-100");
  DatasetInfo info;
  info.task = Task::classification;
  info.num_classes = classes_of(kind, use_coarse);
  SourceRecord src(kind == CifarKind::cifar10 ? "cifar10" : "cifar100");
  std::string names_file =
      kind == CifarKind::cifar10
          ? dir + "/batches.meta.txt"
          : dir + (use_coarse ? "/coarse_label_names.txt" : "/fine_label_names.txt");
  if (file_exists(names_file)) {
    info.class_names = read_lines(names_file);
    NSAL_CHECK_AS(DataError, (int)info.class_names.size() == info.num_classes,
                  "{}: {} class names for {} classes", names_file, info.class_names.size(),
                  info.num_classes);
  } else if (kind == CifarKind::cifar10) {
    info.class_names = known_class_names("cifar10");
  }
  if (kind == CifarKind::cifar100) src.note(use_coarse ? "coarse labels" : "fine labels");
  std::vector<Dataset> parts[2];
  int64_t totals[2] = {0, 0};
  for (int s = 0; s < 2; ++s)
    for (const auto& f : s == 0 ? train_files : test_files) {
      std::vector<uint8_t> bytes = read_file(f, false);
      Dataset d;
      parse_cifar(bytes.data(), bytes.size(), kind, use_coarse, f, d);
      totals[s] += d.x.dim(0);
      parts[s].push_back(std::move(d));
      src.add(f);
    }
  src.apply(info);
  apply_overrides(opts, info);
  DatasetWriter w(opts.output, info, {opts.force, opts.deflate});
  for (int s = 0; s < 2; ++s) {
    w.begin_split(s == 0 ? "train" : "test", totals[s], {3, 32, 32}, DType::u8, {}, DType::i32);
    for (const Dataset& d : parts[s])
      w.append(d.x, d.y);
    w.end_split();
  }
  w.finish();
}

}  // namespace nsal::data
