// Small RAII wrappers over the HDF5 1.10 C API: files, groups, datasets (arrays) and their
// attributes, whole-array and hyperslab reads/writes, and atomic file output. HDF5's own error
// printing is switched off; every failure throws nsal::DataError naming the file, the object and
// the innermost HDF5 message. Used by the dataset format (data/) and by checkpoints (nn/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/tensor.h"

namespace nsal::h5 {

using hid = int64_t;  // hid_t of HDF5 1.10 (kept out of this header)

// Element types nsal reads and writes. HDF5 converts between them on read and write.
enum class Type { f32, f64, i32, i64, u8 };
const char* type_name(Type t);
size_t type_size(Type t);
Type type_of(DType t);  // the file type matching a tensor dtype

template <typename T>
struct TypeOf;
template <>
struct TypeOf<float> {
  static constexpr Type value = Type::f32;
};
template <>
struct TypeOf<double> {
  static constexpr Type value = Type::f64;
};
template <>
struct TypeOf<int32_t> {
  static constexpr Type value = Type::i32;
};
template <>
struct TypeOf<int64_t> {
  static constexpr Type value = Type::i64;
};
template <>
struct TypeOf<uint8_t> {
  static constexpr Type value = Type::u8;
};

// An open HDF5 identifier; closes itself. Move-only.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid id) : id_(id) {}
  ~Handle();
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  hid release() {  // gives up ownership
    hid i = id_;
    id_ = -1;
    return i;
  }

 private:
  hid id_ = -1;
};

// A group or a dataset: both carry attributes. `file` and `path` name it in errors.
class Object {
 public:
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  hid id() const { return handle_.id(); }

  bool has_attr(const std::string& name) const;
  std::vector<std::string> attr_names() const;
  // Writers replace an attribute of the same name.
  void set_string(const std::string& name, const std::string& value);
  void set_int(const std::string& name, int64_t value);
  void set_double(const std::string& name, double value);
  void set_doubles(const std::string& name, const std::vector<double>& values);
  void set_strings(const std::string& name, const std::vector<std::string>& values);
  // Readers throw DataError naming the attribute when it is missing or of another kind.
  std::string get_string(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::vector<double> get_doubles(const std::string& name) const;
  std::vector<std::string> get_strings(const std::string& name) const;

  // "file.h5: /train/x: what"
  std::string where(const std::string& what) const;

 protected:
  Object(Handle h, std::string file, std::string path)
      : handle_(std::move(h)), file_(std::move(file)), path_(std::move(path)) {}
  Object() = default;
  Handle handle_;
  std::string file_;
  std::string path_;
};

// How a new dataset is laid out. chunk_rows > 0 chunks along the first dimension (needed for
// compression, checksums and fast partial reads); 0 means contiguous.
struct DatasetOptions {
  int64_t chunk_rows = 0;
  int deflate = 0;          // gzip level 0..9 (0: none); needs chunk_rows > 0
  bool fletcher32 = false;  // per-chunk checksum verified on every read; needs chunk_rows > 0
};

class Dataset : public Object {
 public:
  Dataset() = default;
  Shape shape() const;
  Type type() const;  // throws for element types nsal does not use
  int64_t numel() const { return shape_numel(shape()); }

  // Whole array: `data` holds numel() elements of type `mem`.
  void write(const void* data, Type mem);
  void read(void* data, Type mem) const;
  template <typename T>
  std::vector<T> read_all() const {
    std::vector<T> v(static_cast<size_t>(numel()));
    read(v.data(), TypeOf<T>::value);
    return v;
  }
  // Hyperslab: the block [start, start + count) in every dimension.
  void write_slab(const Shape& start, const Shape& count, const void* data, Type mem);
  void read_slab(const Shape& start, const Shape& count, void* data, Type mem) const;
  // Rows [begin, begin + n) of the first dimension.
  void read_rows(int64_t begin, int64_t n, void* data, Type mem) const;
  void write_rows(int64_t begin, int64_t n, const void* data, Type mem);
  // Whole array into a new host tensor of `dtype` (converted by HDF5).
  Tensor read_tensor(DType dtype) const;
  // Whole-array write of a contiguous host tensor (the dataset's shape must match).
  void write_tensor(const Tensor& t);

 private:
  friend class Group;
  Dataset(Handle h, std::string file, std::string path)
      : Object(std::move(h), std::move(file), std::move(path)) {}
  void transfer(const Shape& start, const Shape& count, void* data, Type mem, bool write) const;
};

class Group : public Object {
 public:
  Group() = default;
  bool exists(const std::string& name) const;  // a direct child link of that name
  std::vector<std::string> children() const;   // names of direct children, sorted
  Group create_group(const std::string& name);
  Group open_group(const std::string& name) const;
  Dataset create_dataset(const std::string& name, Type type, const Shape& shape,
                         const DatasetOptions& opts = {});
  // chunk_cache_bytes > 0 gives this dataset its own chunk cache of that size (HDF5's default
  // is 1 MiB), for repeated random reads of a chunked array.
  Dataset open_dataset(const std::string& name, size_t chunk_cache_bytes = 0) const;
  // Shortcuts: a whole array written in one call, and 1-D arrays of variable-length strings.
  Dataset write_tensor(const std::string& name, const Tensor& t, const DatasetOptions& opts = {});
  void write_strings(const std::string& name, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& name) const;

 protected:
  friend class File;
  Group(Handle h, std::string file, std::string path)
      : Object(std::move(h), std::move(file), std::move(path)) {}
  std::string child_path(const std::string& name) const;
};

class File : public Group {
 public:
  File() = default;
  // A new file; an existing one of that name is truncated.
  static File create(const std::string& path);
  // An existing file, read-only unless `writable`. A missing or non-HDF5 file is a DataError.
  static File open(const std::string& path, bool writable = false);
  void flush();
  void close();  // also done by the destructor; close() reports errors, the destructor cannot

 private:
  File(Handle h, std::string path) : Group(std::move(h), path, "/") {}
};

// True when `path` is an HDF5 file (exists and has the signature).
bool is_hdf5(const std::string& path);

// Writes `path` so that it appears only when complete: write to tmp_path() ("<path>.tmp"), then
// commit() flushes it to disk and renames it over `path`. An existing `path` is refused (a
// DataError telling to pass --force) unless `overwrite`. Destroyed without commit(), the
// temporary is removed.
class AtomicOutput {
 public:
  AtomicOutput(std::string path, bool overwrite);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  const std::string& path() const { return path_; }
  const std::string& tmp_path() const { return tmp_; }
  void commit();

 private:
  std::string path_, tmp_;
  bool overwrite_;
  bool committed_ = false;
};

}  // namespace nsal::h5
