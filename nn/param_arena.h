// The parameter arena (DESIGN section 2): every trainable parameter of a model in one contiguous
// buffer, the gradients in a second buffer of the same layout, and the persistent buffers
// (BatchNorm running statistics) in a third. Layers hold views into these buffers.
//
// Layout: entries in declaration order, each starting at a multiple of kArenaAlign elements;
// the padding between entries is zero and belongs to no parameter (kernels that walk the arena
// use segments(), or must leave padding alone).
#pragma once

#include <string>
#include <vector>

#include "nn/tensor.h"

namespace nsal {

constexpr int64_t kArenaAlign = 64;  // elements (256 bytes in fp32)

// What a parameter is to its layer: the `released` noise-stability preset perturbs module
// weights only (conv, linear, BN gamma), never biases or BN beta.
enum class ParamRole : uint8_t { weight, bias };

struct ParamInfo {
  std::string name;    // PyTorch-style: "layer1.0.conv1.weight"
  Shape shape;         // PyTorch layout (OIHW, OIDHW, (out, in))
  int64_t offset = 0;  // first element in the arena
  int64_t numel = 0;
  std::string layer_type;  // "conv2d", "linear", "batchnorm2d", ...
  ParamRole role = ParamRole::weight;
  std::string group;  // layer group for noise masks: first component of the name
};

class ParamArena {
 public:
  ParamArena() = default;
  ParamArena(const ParamArena&) = delete;
  ParamArena& operator=(const ParamArena&) = delete;

  // Declaration phase. `value` and `grad` receive views when allocate() runs; the pointed-to
  // tensors must not move afterwards (layers are held by unique_ptr).
  void add_param(std::string name, Shape shape, std::string layer_type, ParamRole role,
                 Tensor* value, Tensor* grad);
  void add_buffer(std::string name, Shape shape, std::string layer_type, Tensor* value);

  // Allocates the three buffers (zero-filled) and hands out the views.
  void allocate(DType dtype, Device device);
  // Moves every buffer to another device or dtype, keeping values (host conversion for dtype).
  void migrate(DType dtype, Device device);
  bool allocated() const { return allocated_; }

  Tensor& params() { return params_; }  // (arena_size,)
  Tensor& grads() { return grads_; }    // (arena_size,)
  Tensor& buffers() { return buffers_; }
  const Tensor& params() const { return params_; }
  const Tensor& grads() const { return grads_; }
  const Tensor& buffers() const { return buffers_; }

  const std::vector<ParamInfo>& param_infos() const { return params_info_; }
  const std::vector<ParamInfo>& buffer_infos() const { return buffers_info_; }
  const ParamInfo* find_param(const std::string& name) const;
  const ParamInfo* find_buffer(const std::string& name) const;
  std::vector<std::string> groups() const;  // in declaration order, unique
  std::vector<const ParamInfo*> params_in_group(const std::string& group) const;

  int64_t num_params() const;                         // trainable elements, padding excluded
  int64_t arena_size() const { return param_size_; }  // elements, padding included
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  void zero_grad();

 private:
  struct Slot {
    Tensor* value;
    Tensor* grad;
  };
  void bind_views();

  std::vector<ParamInfo> params_info_, buffers_info_;
  std::vector<Slot> param_slots_, buffer_slots_;
  int64_t param_size_ = 0, buffer_size_ = 0;
  Tensor params_, grads_, buffers_;
  DType dtype_ = DType::f32;
  Device device_;
  bool allocated_ = false;
};

}  // namespace nsal
