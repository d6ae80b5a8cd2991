// The exceptions nsal throws, and NSAL_CHECK for conditions that bad input can break.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace nsal {

// Base of every nsal exception: the message says what was wrong and where.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A tensor of the wrong shape, dtype or device reached a layer or kernel.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A batch whose tensors have more elements than a library call can index with 32-bit integers
// (cuDNN's tensor descriptors: kernels::descriptor_element_limit()). Callers whose batch can
// shrink (evaluation, scoring) catch it, like OutOfMemoryError, and retry with a smaller one.
class BatchTooLargeError : public ShapeError {
 public:
  using ShapeError::ShapeError;
};

// A file or its contents were not what the reader expected.
class DataError : public Error {
 public:
  using Error::Error;
};

// A CUDA, cuDNN, cuBLAS or cuRAND call failed (see kernels/cuda/check.h).
class CudaError : public Error {
 public:
  using Error::Error;
};

// Out of memory, on a device or the host: names what was being allocated and, on a device, how
// much was free. Callers whose batch can shrink (evaluation, scoring) catch it and retry.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

}  // namespace nsal

// NSAL_CHECK(cond, "format {}", args...): throws nsal::Error with the message when cond is false.
#define NSAL_CHECK(cond, ...)                                   \
  do {                                                          \
    if (!(cond)) throw ::nsal::Error(fmt::format(__VA_ARGS__)); \
  } while (0)

// Same, with a chosen exception type.
#define NSAL_CHECK_AS(type, cond, ...)                 \
  do {                                                 \
    if (!(cond)) throw type(fmt::format(__VA_ARGS__)); \
  } while (0)
