#include "nn/dtype.h"

#include <algorithm>

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
  if (s == "cuda" || s == "gpu") return Device::cuda(0);  // "gpu": an alias, kept for old configs
  if (s.rfind("cuda:", 0) == 0) {
    const std::string n = s.substr(5);
    const bool digits = !n.empty() && n.size() <= 4 && std::all_of(n.begin(), n.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    if (digits) return Device::cuda(std::stoi(n));
  }
  throw Error("device: expected 'cpu', 'cuda', 'cuda:N' or 'auto', got '" + s + "'");
}

void check_device_available(Device d) {
  if (!d.is_cuda()) return;
  const int count = kernels::cuda_device_count();
  if (d.index < count) return;
  throw Error(fmt::format(
      "device {}: {}; use --device cpu (or auto, which falls back to the cpu)", d.str(),
      count == 0 ? fmt::format("no CUDA device answers ({})", kernels::cuda_unavailable_reason())
                 : fmt::format("this machine has {} CUDA device{}", count, count == 1 ? "" : "s")));
}

}  // namespace nsal
