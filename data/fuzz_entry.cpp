#include "data/fuzz_entry.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "data/cifar.h"
#include "data/csv.h"
#include "data/dataset.h"
#include "data/file_bytes.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/svhn.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

constexpr size_t kMaxInflate = size_t(64) << 20;

template <typename F>
int guarded(F fn) {
  try {
    fn();
  } catch (const nsal::Error&) {
    // Bad input, reported as it should be.
  }
  return 0;
}

// After each input that went through HDF5: hand its free lists back, so that a long fuzzing
// process measures its own memory, not HDF5's caches of earlier inputs.
template <typename F>
int guarded_hdf5(F fn) {
  int r = guarded(fn);
  H5garbage_collect();
  return r;
}

// Writes the bytes to a per-process temporary file for the readers that only take paths.
class TempFile {
 public:
  TempFile(const uint8_t* data, size_t n, const char* ext) {
    path_ =
        (std::filesystem::temp_directory_path() / ("nsal-fuzz-" + std::to_string(::getpid()) + ext))
            .string();
    FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) throw Error("cannot write " + path_);
    std::fwrite(data, 1, n, f);
    std::fclose(f);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

int fuzz_idx(const uint8_t* data, size_t n) {
  return guarded([&] {
    if (is_gzip(data, n)) {
      std::vector<uint8_t> raw = gunzip_bytes(data, n, "fuzz.gz", kMaxInflate);
      parse_idx(raw.data(), raw.size(), "fuzz");
    } else {
      parse_idx(data, n, "fuzz");
    }
  });
}

int fuzz_cifar(const uint8_t* data, size_t n) {
  if (n == 0) return 0;
  return guarded([&] {
    Dataset d;
    CifarKind kind = data[0] & 1 ? CifarKind::cifar100 : CifarKind::cifar10;
    parse_cifar(data + 1, n - 1, kind, (data[0] & 2) != 0, "fuzz", d);
    validate(d);
  });
}

int fuzz_csv(const uint8_t* data, size_t n) {
  return guarded([&] {
    CsvTable t = parse_csv(reinterpret_cast<const char*>(data), n, "fuzz");
    if (t.header.empty()) return;
    CsvOptions o;
    o.target = t.header.back();
    if (t.header.size() > 2) o.drop = {t.header.front()};
    encode_csv(t, "fuzz", t, "fuzz", o);
  });
}

int fuzz_png(const uint8_t* data, size_t n) {
  guarded([&] { decode_png_rgb(data, n, "fuzz.png"); });
  return guarded([&] { decode_png_labels(data, n, "fuzz.png"); });
}

int fuzz_jpeg(const uint8_t* data, size_t n) {
  return guarded([&] {
    Image img = decode_jpeg_rgb(data, n, "fuzz.jpg");
    if (img.width >= 2 && img.height >= 2) resize_bilinear(img, 2, 3);
  });
}

int fuzz_svhn_mat(const uint8_t* data, size_t n) {
  return guarded_hdf5([&] {  // v7.3 .mat files are HDF5
    TempFile f(data, n, ".mat");
    load_svhn_mat(f.path());
  });
}

int fuzz_dataset(const uint8_t* data, size_t n) {
  return guarded_hdf5([&] {
    TempFile f(data, n, ".h5");
    for (const char* split : {"train", "test"}) {
      try {
        read_dataset(f.path(), split);
      } catch (const nsal::Error&) {
      }
    }
  });
}

const std::vector<FuzzTarget>& fuzz_targets() {
  static const std::vector<FuzzTarget> t = {
      {"idx", fuzz_idx},   {"cifar", fuzz_cifar},       {"csv", fuzz_csv},        {"png", fuzz_png},
      {"jpeg", fuzz_jpeg}, {"svhn_mat", fuzz_svhn_mat}, {"dataset", fuzz_dataset}};
  return t;
}

}  // namespace nsal::data
