#include "nn/param_arena.h"

#include <algorithm>

namespace nsal {

static int64_t align_up(int64_t n) {
  return (n + kArenaAlign - 1) / kArenaAlign * kArenaAlign;
}

static std::string group_of(const std::string& name) {
  size_t dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

void ParamArena::add_param(std::string name, Shape shape, std::string layer_type, ParamRole role,
                           Tensor* value, Tensor* grad) {
  NSAL_CHECK(!allocated_, "parameter '{}' declared after the arena was allocated", name);
  NSAL_CHECK(find_param(name) == nullptr, "parameter '{}' declared twice", name);
  ParamInfo info;
  info.group = group_of(name);
  info.name = std::move(name);
  info.numel = shape_numel(shape);
  info.shape = std::move(shape);
  info.offset = param_size_;
  info.layer_type = std::move(layer_type);
  info.role = role;
  param_size_ = align_up(param_size_ + info.numel);
  params_info_.push_back(std::move(info));
  param_slots_.push_back({value, grad});
}

void ParamArena::add_buffer(std::string name, Shape shape, std::string layer_type, Tensor* value) {
  NSAL_CHECK(!allocated_, "buffer '{}' declared after the arena was allocated", name);
  NSAL_CHECK(find_buffer(name) == nullptr, "buffer '{}' declared twice", name);
  ParamInfo info;
  info.group = group_of(name);
  info.name = std::move(name);
  info.numel = shape_numel(shape);
  info.shape = std::move(shape);
  info.offset = buffer_size_;
  info.layer_type = std::move(layer_type);
  buffer_size_ = align_up(buffer_size_ + info.numel);
  buffers_info_.push_back(std::move(info));
  buffer_slots_.push_back({value, nullptr});
}

void ParamArena::allocate(DType dtype, Device device) {
  NSAL_CHECK(!allocated_, "parameter arena allocated twice");
  dtype_ = dtype;
  device_ = device;
  params_ = Tensor({param_size_}, dtype, device, "parameter arena");
  grads_ = Tensor({param_size_}, dtype, device, "gradient arena");
  buffers_ = Tensor({buffer_size_}, dtype, device, "buffer arena");
  params_.fill_zero();
  grads_.fill_zero();
  buffers_.fill_zero();
  allocated_ = true;
  bind_views();
}

void ParamArena::migrate(DType dtype, Device device) {
  NSAL_CHECK(allocated_, "migrate() before allocate()");
  auto move_one = [&](Tensor& t, const char* what) {
    Tensor host = t.to(Device::cpu());
    if (dtype != dtype_) host = host.to_dtype(dtype);
    Tensor dst(host.shape(), dtype, device, what);
    dst.copy_from(host);
    t = std::move(dst);
  };
  move_one(params_, "parameter arena");
  move_one(grads_, "gradient arena");
  move_one(buffers_, "buffer arena");
  dtype_ = dtype;
  device_ = device;
  bind_views();
}

void ParamArena::bind_views() {
  size_t es = dtype_size(dtype_);
  char* p = static_cast<char*>(params_.raw());
  char* g = static_cast<char*>(grads_.raw());
  char* b = static_cast<char*>(buffers_.raw());
  for (size_t i = 0; i < params_info_.size(); ++i) {
    const ParamInfo& info = params_info_[i];
    if (param_slots_[i].value)
      *param_slots_[i].value = Tensor::view(p + info.offset * es, info.shape, dtype_, device_);
    if (param_slots_[i].grad)
      *param_slots_[i].grad = Tensor::view(g + info.offset * es, info.shape, dtype_, device_);
  }
  for (size_t i = 0; i < buffers_info_.size(); ++i) {
    const ParamInfo& info = buffers_info_[i];
    if (buffer_slots_[i].value)
      *buffer_slots_[i].value = Tensor::view(b + info.offset * es, info.shape, dtype_, device_);
  }
}

const ParamInfo* ParamArena::find_param(const std::string& name) const {
  for (const auto& p : params_info_)
    if (p.name == name) return &p;
  return nullptr;
}

const ParamInfo* ParamArena::find_buffer(const std::string& name) const {
  for (const auto& p : buffers_info_)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> ParamArena::groups() const {
  std::vector<std::string> out;
  for (const auto& p : params_info_)
    if (std::find(out.begin(), out.end(), p.group) == out.end()) out.push_back(p.group);
  return out;
}

std::vector<const ParamInfo*> ParamArena::params_in_group(const std::string& group) const {
  std::vector<const ParamInfo*> out;
  for (const auto& p : params_info_)
    if (p.group == group) out.push_back(&p);
  return out;
}

int64_t ParamArena::num_params() const {
  int64_t n = 0;
  for (const auto& p : params_info_)
    n += p.numel;
  return n;
}

void ParamArena::zero_grad() {
  grads_.fill_zero();
}

}  // namespace nsal
