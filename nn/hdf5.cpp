#include "nn/hdf5.h"

#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>

namespace nsal::h5 {

static_assert(std::is_same<hid_t, hid>::value, "nsal::h5::hid must be HDF5's hid_t");

namespace {

// HDF5 prints its error stack to stderr by default; nsal reports errors itself. In the
// thread-safe build the setting is per thread, so every entry point calls this.
void quiet() {
  thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

herr_t collect_message(unsigned n, const H5E_error2_t* e, void* data) {
  auto* msg = static_cast<std::string*>(data);
  if (e->desc && e->desc[0]) {
    if (n == 0) {
      *msg = e->desc;  // the API call's own message
    } else {
      std::string inner = e->desc;
      if (msg->find(inner) == std::string::npos) *msg += " (" + inner + ")";
    }
  }
  return 0;
}

// The innermost messages of the current thread's HDF5 error stack, then clears it.
std::string hdf5_message() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_message, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg.empty() ? std::string("HDF5 call failed") : "HDF5: " + msg;
}

[[noreturn]] void fail(const std::string& file, const std::string& path, const std::string& what) {
  std::string m = hdf5_message();
  throw DataError(fmt::format("{}: {}: {}: {}", file, path, what, m));
}

hid_t mem_type(Type t) {
  switch (t) {
    case Type::f32:
      return H5T_NATIVE_FLOAT;
    case Type::f64:
      return H5T_NATIVE_DOUBLE;
    case Type::i32:
      return H5T_NATIVE_INT32;
    case Type::i64:
      return H5T_NATIVE_INT64;
    case Type::u8:
      return H5T_NATIVE_UINT8;
  }
  return H5T_NATIVE_FLOAT;
}

// Little-endian file types, whatever the machine.
hid_t file_type(Type t) {
  switch (t) {
    case Type::f32:
      return H5T_IEEE_F32LE;
    case Type::f64:
      return H5T_IEEE_F64LE;
    case Type::i32:
      return H5T_STD_I32LE;
    case Type::i64:
      return H5T_STD_I64LE;
    case Type::u8:
      return H5T_STD_U8LE;
  }
  return H5T_IEEE_F32LE;
}

std::vector<hsize_t> to_hsize(const Shape& s) {
  return std::vector<hsize_t>(s.begin(), s.end());
}

std::string join_path(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

}  // namespace

const char* type_name(Type t) {
  switch (t) {
    case Type::f32:
      return "float32";
    case Type::f64:
      return "float64";
    case Type::i32:
      return "int32";
    case Type::i64:
      return "int64";
    case Type::u8:
      return "uint8";
  }
  return "?";
}

size_t type_size(Type t) {
  switch (t) {
    case Type::f32:
    case Type::i32:
      return 4;
    case Type::f64:
    case Type::i64:
      return 8;
    case Type::u8:
      return 1;
  }
  return 0;
}

Type type_of(DType t) {
  switch (t) {
    case DType::f32:
      return Type::f32;
    case DType::f64:
      return Type::f64;
    case DType::i32:
      return Type::i32;
    case DType::u8:
      return Type::u8;
    case DType::bf16:
      break;
  }
  throw Error(std::string("HDF5: no file type for ") + dtype_name(t) +
              " tensors (bfloat16 is an in-memory inference format; convert to float32 to save)");
}

// ---------------------------------------------------------------------------------------- Handle

Handle::~Handle() {
  if (id_ < 0) return;
  quiet();
  switch (H5Iget_type(id_)) {
    case H5I_FILE:
      H5Fclose(id_);
      break;
    case H5I_GROUP:
      H5Gclose(id_);
      break;
    case H5I_DATASET:
      H5Dclose(id_);
      break;
    case H5I_DATASPACE:
      H5Sclose(id_);
      break;
    case H5I_DATATYPE:
      H5Tclose(id_);
      break;
    case H5I_ATTR:
      H5Aclose(id_);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id_);
      break;
    default:
      H5Idec_ref(id_);
  }
  H5Eclear2(H5E_DEFAULT);
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    Handle tmp(id_);  // closes the old id
    id_ = o.id_;
    o.id_ = -1;
  }
  return *this;
}

// ------------------------------------------------------------------------------------ Attributes

std::string Object::where(const std::string& what) const {
  return fmt::format("{}: {}: {}", file_, path_, what);
}

bool Object::has_attr(const std::string& name) const {
  quiet();
  htri_t r = H5Aexists(id(), name.c_str());
  if (r < 0) fail(file_, path_, "cannot query attribute '" + name + "'");
  return r > 0;
}

static herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

std::vector<std::string> Object::attr_names() const {
  quiet();
  std::vector<std::string> names;
  if (H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attr_name, &names) < 0)
    fail(file_, path_, "cannot list attributes");
  return names;
}

namespace {

// Creates (replacing) attribute `name` of `type` over `space`, and writes `data`.
void write_attr(const Object& o, const std::string& name, hid_t ftype, hid_t mtype, hid_t space,
                const void* data) {
  quiet();
  if (o.has_attr(name) && H5Adelete(o.id(), name.c_str()) < 0)
    fail(o.file(), o.path(), "cannot replace attribute '" + name + "'");
  Handle a(H5Acreate2(o.id(), name.c_str(), ftype, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) fail(o.file(), o.path(), "cannot create attribute '" + name + "'");
  if (H5Sget_simple_extent_npoints(space) == 0) return;  // an empty list: nothing to write
  if (H5Awrite(a.id(), mtype, data) < 0)
    fail(o.file(), o.path(), "cannot write attribute '" + name + "'");
}

Handle open_attr(const Object& o, const std::string& name) {
  quiet();
  if (!o.has_attr(name)) throw DataError(o.where("missing attribute '" + name + "'"));
  Handle a(H5Aopen(o.id(), name.c_str(), H5P_DEFAULT));
  if (!a.valid()) fail(o.file(), o.path(), "cannot open attribute '" + name + "'");
  return a;
}

int64_t attr_numel(const Object& o, const std::string& name, hid_t attr) {
  Handle space(H5Aget_space(attr));
  hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.id()) : -1;
  if (n < 0) fail(o.file(), o.path(), "cannot read the shape of attribute '" + name + "'");
  return n;
}

H5T_class_t attr_class(const Object& o, const std::string& name, hid_t attr) {
  Handle t(H5Aget_type(attr));
  H5T_class_t c = t.valid() ? H5Tget_class(t.id()) : H5T_NO_CLASS;
  if (c == H5T_NO_CLASS)
    fail(o.file(), o.path(), "cannot read the type of attribute '" + name + "'");
  return c;
}

std::vector<std::string> read_vlen_strings(const Object& o, const std::string& what, hid_t obj,
                                           bool is_attr, int64_t n) {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.id(), H5T_VARIABLE);
  H5Tset_cset(t.id(), H5T_CSET_UTF8);
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  // HDF5 allocates each string as it converts; a read that fails part-way leaves some allocated,
  // so every non-null one is freed whether the read succeeded or not.
  struct FreeStrings {
    std::vector<char*>& p;
    ~FreeStrings() {
      for (char* s : p)
        if (s) H5free_memory(s);
    }
  } free_strings{ptrs};
  herr_t r = is_attr ? H5Aread(obj, t.id(), ptrs.data())
                     : H5Dread(obj, t.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
  if (r < 0) fail(o.file(), o.path(), "cannot read strings '" + what + "'");
  std::vector<std::string> out;
  out.reserve(ptrs.size());
  for (char* p : ptrs)
    out.emplace_back(p ? p : "");
  return out;
}

}  // namespace

void Object::set_string(const std::string& name, const std::string& value) {
  quiet();
  // Variable-length UTF-8, which h5py and MATLAB read back as text.
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.id(), H5T_VARIABLE);
  H5Tset_cset(t.id(), H5T_CSET_UTF8);
  Handle s(H5Screate(H5S_SCALAR));
  const char* p = value.c_str();
  write_attr(*this, name, t.id(), t.id(), s.id(), &p);
}

void Object::set_int(const std::string& name, int64_t value) {
  quiet();
  Handle s(H5Screate(H5S_SCALAR));
  write_attr(*this, name, H5T_STD_I64LE, H5T_NATIVE_INT64, s.id(), &value);
}

void Object::set_double(const std::string& name, double value) {
  quiet();
  Handle s(H5Screate(H5S_SCALAR));
  write_attr(*this, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s.id(), &value);
}

void Object::set_doubles(const std::string& name, const std::vector<double>& values) {
  quiet();
  hsize_t n = values.size();
  Handle s(n ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_NULL));
  write_attr(*this, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s.id(), values.data());
}

void Object::set_strings(const std::string& name, const std::vector<std::string>& values) {
  quiet();
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.id(), H5T_VARIABLE);
  H5Tset_cset(t.id(), H5T_CSET_UTF8);
  hsize_t n = values.size();
  Handle s(n ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_NULL));
  std::vector<const char*> ptrs;
  for (const auto& v : values)
    ptrs.push_back(v.c_str());
  write_attr(*this, name, t.id(), t.id(), s.id(), ptrs.data());
}

std::string Object::get_string(const std::string& name) const {
  Handle a = open_attr(*this, name);
  if (attr_class(*this, name, a.id()) != H5T_STRING)
    throw DataError(where("attribute '" + name + "' is not a string"));
  Handle t(H5Aget_type(a.id()));
  if (attr_numel(*this, name, a.id()) != 1)
    throw DataError(where("attribute '" + name + "' is not a single string"));
  if (H5Tis_variable_str(t.id()) > 0) return read_vlen_strings(*this, name, a.id(), true, 1)[0];
  size_t size = H5Tget_size(t.id());
  std::string buf(size, '\0');
  Handle mt(H5Tcopy(t.id()));  // same size and character set as stored
  H5Tset_strpad(mt.id(), H5T_STR_NULLPAD);
  if (H5Aread(a.id(), mt.id(), buf.data()) < 0)
    fail(file_, path_, "cannot read attribute '" + name + "'");
  buf.resize(strnlen(buf.data(), buf.size()));
  return buf;
}

int64_t Object::get_int(const std::string& name) const {
  Handle a = open_attr(*this, name);
  if (attr_class(*this, name, a.id()) != H5T_INTEGER || attr_numel(*this, name, a.id()) != 1)
    throw DataError(where("attribute '" + name + "' is not a single integer"));
  int64_t v = 0;
  if (H5Aread(a.id(), H5T_NATIVE_INT64, &v) < 0)
    fail(file_, path_, "cannot read attribute '" + name + "'");
  return v;
}

double Object::get_double(const std::string& name) const {
  std::vector<double> v = get_doubles(name);
  if (v.size() != 1) throw DataError(where("attribute '" + name + "' is not a single number"));
  return v[0];
}

std::vector<double> Object::get_doubles(const std::string& name) const {
  Handle a = open_attr(*this, name);
  H5T_class_t c = attr_class(*this, name, a.id());
  if (c != H5T_FLOAT && c != H5T_INTEGER)
    throw DataError(where("attribute '" + name + "' is not numeric"));
  std::vector<double> v(static_cast<size_t>(attr_numel(*this, name, a.id())));
  if (!v.empty() && H5Aread(a.id(), H5T_NATIVE_DOUBLE, v.data()) < 0)
    fail(file_, path_, "cannot read attribute '" + name + "'");
  return v;
}

std::vector<std::string> Object::get_strings(const std::string& name) const {
  Handle a = open_attr(*this, name);
  if (attr_class(*this, name, a.id()) != H5T_STRING)
    throw DataError(where("attribute '" + name + "' is not a string array"));
  int64_t n = attr_numel(*this, name, a.id());
  if (n == 0) return {};
  Handle t(H5Aget_type(a.id()));
  if (H5Tis_variable_str(t.id()) <= 0) {
    if (n == 1) return {get_string(name)};
    throw DataError(where("attribute '" + name +
                          "' holds fixed-length strings; expected "
                          "variable-length"));
  }
  return read_vlen_strings(*this, name, a.id(), true, n);
}

// --------------------------------------------------------------------------------------- Dataset

Shape Dataset::shape() const {
  quiet();
  Handle s(H5Dget_space(id()));
  int nd = s.valid() ? H5Sget_simple_extent_ndims(s.id()) : -1;
  if (nd < 0) fail(file_, path_, "cannot read the shape");
  std::vector<hsize_t> dims(static_cast<size_t>(nd));
  if (nd > 0) H5Sget_simple_extent_dims(s.id(), dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

Type Dataset::type() const {
  quiet();
  Handle t(H5Dget_type(id()));
  if (!t.valid()) fail(file_, path_, "cannot read the element type");
  H5T_class_t c = H5Tget_class(t.id());
  size_t size = H5Tget_size(t.id());
  if (c == H5T_FLOAT && size == 4) return Type::f32;
  if (c == H5T_FLOAT && size == 8) return Type::f64;
  if (c == H5T_INTEGER) {
    bool is_signed = H5Tget_sign(t.id()) == H5T_SGN_2;
    if (size == 1 && !is_signed) return Type::u8;
    if (size == 4 && is_signed) return Type::i32;
    if (size == 8 && is_signed) return Type::i64;
  }
  throw DataError(where(
      fmt::format("unsupported element type (class {}, {} bytes)", static_cast<int>(c), size)));
}

void Dataset::transfer(const Shape& start, const Shape& count, void* data, Type mem,
                       bool write) const {
  quiet();
  Shape full = shape();
  NSAL_CHECK_AS(DataError, start.size() == full.size() && count.size() == full.size(), "{}",
                where(fmt::format("slab start {} count {} for an array of shape {}",
                                  shape_str(start), shape_str(count), shape_str(full))));
  for (size_t i = 0; i < full.size(); ++i)
    NSAL_CHECK_AS(DataError, start[i] >= 0 && count[i] >= 0 && start[i] + count[i] <= full[i], "{}",
                  where(fmt::format("slab start {} count {} outside the shape {}", shape_str(start),
                                    shape_str(count), shape_str(full))));
  if (shape_numel(count) == 0) return;
  Handle fspace(H5Dget_space(id()));
  if (!fspace.valid()) fail(file_, path_, "cannot read the dataspace");
  if (!full.empty()) {
    auto st = to_hsize(start), ct = to_hsize(count);
    if (H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, st.data(), nullptr, ct.data(), nullptr) <
        0)
      fail(file_, path_, "cannot select a hyperslab");
  }
  hsize_t n = static_cast<hsize_t>(shape_numel(count));
  // The memory space has the selection's own shape: with another rank HDF5 maps the elements
  // one by one (tens of times slower on chunked arrays).
  auto mdims = to_hsize(count);
  Handle mspace(full.empty()
                    ? H5Screate(H5S_SCALAR)
                    : H5Screate_simple(static_cast<int>(mdims.size()), mdims.data(), nullptr));
  herr_t r = write ? H5Dwrite(id(), mem_type(mem), mspace.id(), fspace.id(), H5P_DEFAULT, data)
                   : H5Dread(id(), mem_type(mem), mspace.id(), fspace.id(), H5P_DEFAULT, data);
  if (r < 0)
    fail(file_, path_,
         fmt::format("cannot {} {} elements as {}", write ? "write" : "read", n, type_name(mem)));
}

void Dataset::write(const void* data, Type mem) {
  Shape s = shape();
  transfer(Shape(s.size(), 0), s, const_cast<void*>(data), mem, true);
}

void Dataset::read(void* data, Type mem) const {
  Shape s = shape();
  transfer(Shape(s.size(), 0), s, data, mem, false);
}

void Dataset::write_slab(const Shape& start, const Shape& count, const void* data, Type mem) {
  transfer(start, count, const_cast<void*>(data), mem, true);
}

void Dataset::read_slab(const Shape& start, const Shape& count, void* data, Type mem) const {
  transfer(start, count, data, mem, false);
}

void Dataset::read_rows(int64_t begin, int64_t n, void* data, Type mem) const {
  Shape s = shape();
  NSAL_CHECK_AS(DataError, !s.empty(), "{}", where("read_rows of a scalar"));
  Shape start(s.size(), 0), count = s;
  start[0] = begin;
  count[0] = n;
  transfer(start, count, data, mem, false);
}

void Dataset::write_rows(int64_t begin, int64_t n, const void* data, Type mem) {
  Shape s = shape();
  NSAL_CHECK_AS(DataError, !s.empty(), "{}", where("write_rows of a scalar"));
  Shape start(s.size(), 0), count = s;
  start[0] = begin;
  count[0] = n;
  transfer(start, count, const_cast<void*>(data), mem, true);
}

Tensor Dataset::read_tensor(DType dtype) const {
  // A corrupt shape must not become a huge allocation: the array cannot hold more than its
  // stored bytes could give (deflate expands at most about 1032 times), plus fill values.
  const double want =
      static_cast<double>(shape_numel(shape())) * static_cast<double>(dtype_size(dtype));
  const double stored = static_cast<double>(H5Dget_storage_size(id()));
  if (want > stored * 1100.0 + 64.0 * 1048576.0)
    throw DataError(where(fmt::format("a shape of {} bytes, but only {} bytes are stored: corrupt",
                                      static_cast<int64_t>(want), static_cast<int64_t>(stored))));
  Tensor t(shape(), dtype, Device::cpu(), "HDF5 array");
  read(t.raw(), type_of(dtype));
  return t;
}

void Dataset::write_tensor(const Tensor& t) {
  NSAL_CHECK_AS(DataError, t.device().is_cpu() && t.is_contiguous(), "{}",
                where("write_tensor needs a contiguous host tensor, got " + t.describe()));
  NSAL_CHECK_AS(DataError, t.shape() == shape(), "{}",
                where(fmt::format("tensor {} does not match the array shape {}", t.describe(),
                                  shape_str(shape()))));
  write(t.raw(), type_of(t.dtype()));
}

// ----------------------------------------------------------------------------------------- Group

std::string Group::child_path(const std::string& name) const {
  return join_path(path_, name);
}

bool Group::exists(const std::string& name) const {
  quiet();
  htri_t r = H5Lexists(id(), name.c_str(), H5P_DEFAULT);
  if (r < 0) fail(file_, child_path(name), "cannot query the link");
  return r > 0;
}

static herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

std::vector<std::string> Group::children() const {
  quiet();
  std::vector<std::string> names;
  if (H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_link, &names) < 0)
    fail(file_, path_, "cannot list the group");
  std::sort(names.begin(), names.end());
  return names;
}

// Creation properties of class `cls` without HDF5's object modification times, so that the same
// content gives the same bytes (a file written twice compares equal with cmp or sha256sum).
static Handle untimed_creation(hid_t cls) {
  Handle p(H5Pcreate(cls));
  if (!p.valid() || H5Pset_obj_track_times(p.id(), false) < 0)
    throw DataError("HDF5: cannot make an object creation property list");
  return p;
}

Group Group::create_group(const std::string& name) {
  quiet();
  Handle gcpl = untimed_creation(H5P_GROUP_CREATE);
  Handle g(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, gcpl.id(), H5P_DEFAULT));
  if (!g.valid()) fail(file_, child_path(name), "cannot create the group");
  return Group(std::move(g), file_, child_path(name));
}

Group Group::open_group(const std::string& name) const {
  quiet();
  if (!exists(name)) throw DataError(fmt::format("{}: {}: missing group", file_, child_path(name)));
  Handle g(H5Gopen2(id(), name.c_str(), H5P_DEFAULT));
  if (!g.valid()) fail(file_, child_path(name), "cannot open the group");
  return Group(std::move(g), file_, child_path(name));
}

Dataset Group::create_dataset(const std::string& name, Type type, const Shape& shape,
                              const DatasetOptions& opts) {
  quiet();
  std::string p = child_path(name);
  for (int64_t d : shape)
    NSAL_CHECK_AS(DataError, d >= 0, "{}: {}: negative dimension in {}", file_, p,
                  shape_str(shape));
  auto dims = to_hsize(shape);
  Handle space(shape.empty()
                   ? H5Screate(H5S_SCALAR)
                   : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  if (!space.valid()) fail(file_, p, "cannot create the dataspace");
  Handle dcpl = untimed_creation(H5P_DATASET_CREATE);
  bool chunked = opts.chunk_rows > 0 && !shape.empty() && shape_numel(shape) > 0;
  NSAL_CHECK_AS(DataError,
                chunked || (opts.deflate == 0 && !opts.fletcher32) || shape_numel(shape) == 0,
                "{}: {}: compression and checksums need chunk_rows > 0", file_, p);
  if (chunked) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = static_cast<hsize_t>(std::min(opts.chunk_rows, shape[0]));
    if (H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()) < 0)
      fail(file_, p, "cannot set the chunk shape");
    if (opts.fletcher32 && H5Pset_fletcher32(dcpl.id()) < 0)
      fail(file_, p, "cannot enable the Fletcher-32 checksum");
    if (opts.deflate > 0 && H5Pset_deflate(dcpl.id(), static_cast<unsigned>(opts.deflate)) < 0)
      fail(file_, p, "cannot enable deflate compression");
  }
  Handle d(H5Dcreate2(id(), name.c_str(), file_type(type), space.id(), H5P_DEFAULT, dcpl.id(),
                      H5P_DEFAULT));
  if (!d.valid()) fail(file_, p, "cannot create the dataset");
  return Dataset(std::move(d), file_, p);
}

Dataset Group::open_dataset(const std::string& name, size_t chunk_cache_bytes) const {
  quiet();
  std::string p = child_path(name);
  if (!exists(name)) throw DataError(fmt::format("{}: {}: missing dataset", file_, p));
  Handle dapl(H5Pcreate(H5P_DATASET_ACCESS));
  if (chunk_cache_bytes > 0 && H5Pset_chunk_cache(dapl.id(), 100003, chunk_cache_bytes, 0.75) < 0)
    fail(file_, p, "cannot set the chunk cache");
  Handle d(H5Dopen2(id(), name.c_str(), dapl.id()));
  if (!d.valid()) fail(file_, p, "cannot open the dataset");
  return Dataset(std::move(d), file_, p);
}

Dataset Group::write_tensor(const std::string& name, const Tensor& t, const DatasetOptions& opts) {
  Dataset d = create_dataset(name, type_of(t.dtype()), t.shape(), opts);
  d.write_tensor(t);
  return d;
}

void Group::write_strings(const std::string& name, const std::vector<std::string>& values) {
  quiet();
  std::string p = child_path(name);
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.id(), H5T_VARIABLE);
  H5Tset_cset(t.id(), H5T_CSET_UTF8);
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  Handle dcpl = untimed_creation(H5P_DATASET_CREATE);
  Handle d(H5Dcreate2(id(), name.c_str(), t.id(), space.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT));
  if (!d.valid()) fail(file_, p, "cannot create the string array");
  std::vector<const char*> ptrs;
  for (const auto& v : values)
    ptrs.push_back(v.c_str());
  if (n && H5Dwrite(d.id(), t.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    fail(file_, p, "cannot write the string array");
}

std::vector<std::string> Group::read_strings(const std::string& name) const {
  Dataset d = open_dataset(name);
  Handle t(H5Dget_type(d.id()));
  if (!t.valid() || H5Tget_class(t.id()) != H5T_STRING || H5Tis_variable_str(t.id()) <= 0)
    throw DataError(d.where("not an array of variable-length strings"));
  Shape s = d.shape();
  if (s.size() != 1) throw DataError(d.where("string array of shape " + shape_str(s)));
  if (s[0] == 0) return {};
  return read_vlen_strings(d, name, d.id(), false, s[0]);
}

// ------------------------------------------------------------------------------------------ File

File File::create(const std::string& path) {
  quiet();
  Handle fcpl = untimed_creation(H5P_FILE_CREATE);  // the root group
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.id(), H5P_DEFAULT));
  if (!f.valid()) fail(path, "/", "cannot create the file");
  return File(std::move(f), path);
}

File File::open(const std::string& path, bool writable) {
  quiet();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw DataError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw DataError(fmt::format("{}: a directory, not an HDF5 file", path));
  htri_t is = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  if (is <= 0)
    throw DataError(
        fmt::format("{}: not an HDF5 file (no HDF5 signature; truncated or another "
                    "format)",
                    path));
  Handle f(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f.valid()) fail(path, "/", "cannot open the file (corrupt or truncated?)");
  return File(std::move(f), path);
}

void File::flush() {
  quiet();
  if (H5Fflush(id(), H5F_SCOPE_GLOBAL) < 0) fail(file_, "/", "cannot flush");
}

void File::close() {
  quiet();
  if (!handle_.valid()) return;
  hid_t id = handle_.release();
  if (H5Fclose(id) < 0) fail(file_, "/", "cannot close the file");
}

bool is_hdf5(const std::string& path) {
  quiet();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  htri_t r = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

// ---------------------------------------------------------------------------------- AtomicOutput

static bool path_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

AtomicOutput::AtomicOutput(std::string path, bool overwrite)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), overwrite_(overwrite) {
  NSAL_CHECK_AS(DataError, !path_.empty(), "empty output path");
  if (!overwrite_ && path_exists(path_))
    throw DataError(fmt::format("{}: already exists; pass --force to overwrite it", path_));
  ::unlink(tmp_.c_str());  // a leftover of an interrupted write
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicOutput::commit() {
  NSAL_CHECK_AS(DataError, !committed_, "{}: committed twice", path_);
  int fd = ::open(tmp_.c_str(), O_RDONLY);
  if (fd < 0)
    throw DataError(
        fmt::format("{}: the temporary {} is missing: {}", path_, tmp_, std::strerror(errno)));
  int sync_rc = ::fsync(fd);
  ::close(fd);
  if (sync_rc != 0)
    throw DataError(fmt::format("{}: cannot sync {}: {}", path_, tmp_, std::strerror(errno)));
  if (!overwrite_) {
    // link() fails when the target exists, so a file created meanwhile is never replaced.
    if (::link(tmp_.c_str(), path_.c_str()) != 0) {
      if (errno == EEXIST)
        throw DataError(fmt::format("{}: already exists; pass --force to overwrite it", path_));
      if (errno != EPERM && errno != EXDEV && errno != ENOTSUP)
        throw DataError(fmt::format("{}: cannot create: {}", path_, std::strerror(errno)));
      if (path_exists(path_))
        throw DataError(fmt::format("{}: already exists; pass --force to overwrite it", path_));
      if (::rename(tmp_.c_str(), path_.c_str()) != 0)
        throw DataError(fmt::format("{}: cannot rename {}: {}", path_, tmp_, std::strerror(errno)));
    } else {
      ::unlink(tmp_.c_str());
    }
  } else if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    throw DataError(fmt::format("{}: cannot rename {}: {}", path_, tmp_, std::strerror(errno)));
  }
  committed_ = true;
}

}  // namespace nsal::h5
