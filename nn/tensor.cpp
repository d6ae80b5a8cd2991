#include "nn/tensor.h"

#include <algorithm>
#include <cstring>

#include "kernels/bf16.h"
#include "kernels/memory.h"

namespace nsal {

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  if (s.size() == 1) r += ",";
  return r + ")";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

Storage::Storage(size_t bytes, Device device, const char* what) : bytes_(bytes), device_(device) {
  data_ = device.is_cuda() ? kernels::cuda_alloc(bytes, device.index, what)
                           : kernels::host_alloc(bytes, what);
}

Storage::~Storage() {
  if (device_.is_cuda())
    kernels::cuda_free(data_);
  else
    kernels::host_free(data_);
}

// Every dimension non-negative, and the strides (products of the nonzero trailing dimensions)
// representable: a zero dimension does not excuse absurd sizes elsewhere.
static void check_shape(const Shape& shape) {
  int64_t extent = 1;
  for (int64_t d : shape) {
    NSAL_CHECK_AS(ShapeError, d >= 0, "tensor shape {} has a negative dimension", shape_str(shape));
    NSAL_CHECK_AS(ShapeError, !__builtin_mul_overflow(extent, std::max<int64_t>(d, 1), &extent),
                  "tensor shape {} is too large to index", shape_str(shape));
  }
}

Tensor::Tensor(Shape shape, DType dtype, Device device, const char* what)
    : shape_(std::move(shape)), dtype_(dtype), device_(device) {
  check_shape(shape_);
  strides_ = contiguous_strides(shape_);
  if (nbytes() > 0) {
    storage_ = std::make_unique<Storage>(nbytes(), device, what);
    data_ = storage_->data();
  }
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device device) {
  Tensor t(std::move(shape), dtype, device);
  t.fill_zero();
  return t;
}

Tensor Tensor::view(void* data, Shape shape, DType dtype, Device device) {
  check_shape(shape);
  Tensor t;
  t.data_ = data;
  t.shape_ = std::move(shape);
  t.strides_ = contiguous_strides(t.shape_);
  t.dtype_ = dtype;
  t.device_ = device;
  return t;
}

template <typename T>
static void convert_from_double(const double* src, T* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = static_cast<T>(src[i]);
}

template <typename T>
static void convert_to_double(const T* src, double* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = static_cast<double>(src[i]);
}

static void host_to_double(const Tensor& t, double* dst) {
  switch (t.dtype()) {
    case DType::f32:
      convert_to_double(t.data<float>(), dst, t.numel());
      break;
    case DType::f64:
      convert_to_double(t.data<double>(), dst, t.numel());
      break;
    case DType::i32:
      convert_to_double(t.data<int32_t>(), dst, t.numel());
      break;
    case DType::u8:
      convert_to_double(t.data<uint8_t>(), dst, t.numel());
      break;
    case DType::bf16: {
      const uint16_t* src = t.data<uint16_t>();
      for (int64_t i = 0; i < t.numel(); ++i)
        dst[i] = kernels::from_bf16(src[i]);
      break;
    }
  }
}

static void host_from_double(Tensor& t, const double* src) {
  switch (t.dtype()) {
    case DType::f32:
      convert_from_double(src, t.data<float>(), t.numel());
      break;
    case DType::f64:
      convert_from_double(src, t.data<double>(), t.numel());
      break;
    case DType::i32:
      convert_from_double(src, t.data<int32_t>(), t.numel());
      break;
    case DType::u8:
      convert_from_double(src, t.data<uint8_t>(), t.numel());
      break;
    case DType::bf16: {  // through float32, then rounded to nearest even
      uint16_t* out = t.data<uint16_t>();
      for (int64_t i = 0; i < t.numel(); ++i)
        out[i] = kernels::to_bf16(static_cast<float>(src[i]));
      break;
    }
  }
}

Tensor Tensor::from_vector(const std::vector<double>& values, Shape shape, DType dtype) {
  Tensor t(std::move(shape), dtype);
  NSAL_CHECK_AS(ShapeError, static_cast<int64_t>(values.size()) == t.numel(),
                "from_vector: {} values for shape {}", values.size(), shape_str(t.shape()));
  host_from_double(t, values.data());
  return t;
}

Tensor Tensor::clone() const {
  return to(device_);
}

Tensor Tensor::to(Device device) const {
  if (data_ == nullptr) return view(nullptr, shape_, dtype_, device);  // an empty tensor
  NSAL_CHECK_AS(ShapeError, is_contiguous(), "to(): tensor {} is not contiguous", describe());
  Tensor t(shape_, dtype_, device);
  kernels::copy_bytes(t.data_, device.is_cuda(), data_, device_.is_cuda(), nbytes());
  return t;
}

Tensor Tensor::to_dtype(DType dtype) const {
  NSAL_CHECK_AS(ShapeError, device_.is_cpu() && is_contiguous(),
                "to_dtype(): host contiguous tensors only, got {}", describe());
  std::vector<double> tmp(static_cast<size_t>(numel()));
  host_to_double(*this, tmp.data());
  Tensor t(shape_, dtype);
  host_from_double(t, tmp.data());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  NSAL_CHECK_AS(ShapeError, src.shape_ == shape_ && src.dtype_ == dtype_,
                "copy_from: destination is {}, source is {}", describe(), src.describe());
  NSAL_CHECK_AS(ShapeError, is_contiguous() && src.is_contiguous(),
                "copy_from: both tensors must be contiguous");
  kernels::copy_bytes(data_, device_.is_cuda(), src.data_, src.device_.is_cuda(), nbytes());
}

Tensor Tensor::reshaped(Shape shape) const {
  NSAL_CHECK_AS(ShapeError, is_contiguous(), "reshape of a non-contiguous tensor {}", describe());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      NSAL_CHECK_AS(ShapeError, infer < 0, "reshape to {}: more than one -1", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known > 0) shape[infer] = numel() / known;
  NSAL_CHECK_AS(ShapeError, shape_numel(shape) == numel(), "cannot reshape {} to {}", describe(),
                shape_str(shape));
  return view(data_, std::move(shape), dtype_, device_);
}

Tensor Tensor::slice0(int64_t begin, int64_t end) const {
  NSAL_CHECK_AS(ShapeError, ndim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0],
                "slice0 [{}, {}) out of range for {}", begin, end, describe());
  Shape s = shape_;
  s[0] = end - begin;
  char* p = static_cast<char*>(data_) + begin * strides_[0] * dtype_size(dtype_);
  return view(p, std::move(s), dtype_, device_);
}

void Tensor::resize(const Shape& shape, DType dtype, Device device, const char* what) {
  check_shape(shape);
  NSAL_CHECK(storage_ != nullptr || data_ == nullptr,
             "resize() of a view (shape {}) is not allowed", shape_str(shape_));
  size_t need = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  if (!storage_ || storage_->device() != device || storage_->bytes() < need) {
    storage_.reset();
    data_ = nullptr;
    if (need > 0) {
      storage_ = std::make_unique<Storage>(need, device, what);
      data_ = storage_->data();
    }
  }
  shape_ = shape;
  strides_ = contiguous_strides(shape_);
  dtype_ = dtype;
  device_ = device;
}

void Tensor::fill_zero() {
  kernels::zero_bytes(data_, device_.is_cuda(), nbytes());
}

void Tensor::fill(double value) {
  NSAL_CHECK(device_.is_cpu(), "fill(): host tensors only, got {}", describe());
  std::vector<double> v(static_cast<size_t>(numel()), value);
  host_from_double(*this, v.data());
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  int j = i < 0 ? i + n : i;
  NSAL_CHECK_AS(ShapeError, 0 <= j && j < n, "dimension {} out of range for {}", i, describe());
  return shape_[j];
}

bool Tensor::is_contiguous() const {
  return strides_ == contiguous_strides(shape_);
}

double Tensor::at(int64_t i) const {
  NSAL_CHECK(device_.is_cpu() && 0 <= i && i < numel(), "at({}) invalid for {}", i, describe());
  switch (dtype_) {
    case DType::f32:
      return static_cast<const float*>(data_)[i];
    case DType::f64:
      return static_cast<const double*>(data_)[i];
    case DType::i32:
      return static_cast<const int32_t*>(data_)[i];
    case DType::u8:
      return static_cast<const uint8_t*>(data_)[i];
    case DType::bf16:
      return kernels::from_bf16(static_cast<const uint16_t*>(data_)[i]);
  }
  return 0;
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> out(static_cast<size_t>(numel()));
  if (device_.is_cpu()) {
    host_to_double(*this, out.data());
  } else {
    Tensor h = to(Device::cpu());
    host_to_double(h, out.data());
  }
  return out;
}

std::string Tensor::describe() const {
  return std::string(dtype_name(dtype_)) + " " + shape_str(shape_) + " on " + device_.str();
}

}  // namespace nsal
