// Tensor: shape, strides, dtype and device over either owning RAII storage or a view of memory
// owned elsewhere (the parameter arena, a caller's buffer). Move-only; copies are explicit
// (clone, to, copy_from) so that data never moves between host and device behind the code's back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "nn/dtype.h"

namespace nsal {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);  // "(2, 3, 4)"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

// Owning, device-aware memory block; released in the destructor.
class Storage {
 public:
  Storage(size_t bytes, Device device, const char* what);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;
  // Owning tensor; contents uninitialised (use zeros() for zero-filled).
  explicit Tensor(Shape shape, DType dtype = DType::f32, Device device = Device::cpu(),
                  const char* what = "tensor");
  static Tensor zeros(Shape shape, DType dtype = DType::f32, Device device = Device::cpu());
  // Non-owning view of memory that outlives the tensor.
  static Tensor view(void* data, Shape shape, DType dtype, Device device);
  // Host tensor from values (float64 source, converted to dtype); for tests and small tables.
  static Tensor from_vector(const std::vector<double>& values, Shape shape,
                            DType dtype = DType::f32);

  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  // Explicit copies.
  Tensor clone() const;                // same device
  Tensor to(Device device) const;      // deep copy onto `device`
  Tensor to_dtype(DType dtype) const;  // host only: converted deep copy
  void copy_from(const Tensor& src);   // same shape and dtype, any devices

  // Views of the same memory.
  Tensor reshaped(Shape shape) const;               // contiguous only; -1 infers one dimension
  Tensor slice0(int64_t begin, int64_t end) const;  // rows [begin, end) of dimension 0

  // Reuse: keeps the storage when it is big enough, else reallocates. Owning tensors only.
  void resize(const Shape& shape, DType dtype, Device device, const char* what = "tensor");
  void fill_zero();
  void fill(double value);  // host only

  bool defined() const { return data_ != nullptr || numel() == 0; }
  bool empty() const { return shape_.empty() && data_ == nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool is_contiguous() const;
  bool owns_storage() const { return storage_ != nullptr; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  size_t capacity_bytes() const { return storage_ ? storage_->bytes() : nbytes(); }

  void* raw() const { return data_; }
  template <typename T>
  T* data() const {
    if (DTypeOf<T>::value != dtype_)
      throw ShapeError(std::string("tensor holds ") + dtype_name(dtype_) + ", accessed as " +
                       dtype_name(DTypeOf<T>::value));
    return static_cast<T*>(data_);
  }
  // Host element access by flat index (contiguous host tensors), as double; for tests.
  double at(int64_t i) const;
  std::vector<double> to_vector() const;  // any device, any dtype, as double

  std::string describe() const;  // "float32 (2, 3) on cpu"

 private:
  std::unique_ptr<Storage> storage_;
  void* data_ = nullptr;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::f32;
  Device device_;
};

}  // namespace nsal
