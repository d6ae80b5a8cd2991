#include "nn/dtype.h"

#include "kernels/error.h"
#include "kernels/memory.h"

namespace nsal {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::i32:
      return 4;
    case DType::u8:
      return 1;
    case DType::bf16:
      return 2;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::i32:
      return "int32";
    case DType::u8:
      return "uint8";
    case DType::bf16:
      return "bfloat16";
  }
  return "?";
}

std::string Device::str() const {
  return is_cuda() ? "cuda:" + std::to_string(index) : std::string("cpu");
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu();
  if (s == "auto") return kernels::cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu();
  if (s == "cuda" || s == "gpu") return Device::cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    try {
      return Device::cuda(std::stoi(s.substr(5)));
    } catch (const std::exception&) {
    }
  }
  throw Error("device: expected 'cpu', 'cuda', 'cuda:N' or 'auto', got '" + s + "'");
}

}  // namespace nsal
