// Element types and devices a tensor can have.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nsal {

// bf16 is storage only (kernels/bf16.h): a tensor of it holds raw bfloat16 bits, accessed as
// uint16_t; the bf16 inference path (nn/fuse.h) keeps activations in it.
enum class DType : uint8_t { f32, f64, i32, u8, bf16 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::i32;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::u8;
};
template <>
struct DTypeOf<uint16_t> {  // bfloat16 bits
  static constexpr DType value = DType::bf16;
};

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  std::string str() const;  // "cpu" or "cuda:0"
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// Parses "cpu", "cuda" (or "gpu"), "cuda:1" or "auto" (CUDA when a GPU answers, else the CPU).
Device parse_device(const std::string& s);
// Throws Error naming the device and why when `d` is a CUDA device this machine does not have
// (no device answers, or the index is too high); the commands call it before any work.
void check_device_available(Device d);

}  // namespace nsal
