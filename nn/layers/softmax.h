// Softmax and LogSoftmax over the class dimension (dimension 1) of (N, C) or (N, C, ...), e.g.
// per pixel for (N, C, H, W). Computed stably (max-subtracted, sums in double).
#pragma once

#include "nn/layer.h"

namespace nsal {

class Softmax : public Layer {
 public:
  explicit Softmax(std::string name) : Softmax("softmax", std::move(name), false) {}
  Shape output_shape(const Shape& in) const override;
  BackwardReads backward_reads(bool) const override { return {false, true}; }  // y

 protected:
  Softmax(std::string type, std::string name, bool log)
      : Layer(std::move(type), std::move(name)), log_(log) {}
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  bool log_;
};

class LogSoftmax : public Softmax {
 public:
  explicit LogSoftmax(std::string name) : Softmax("log_softmax", std::move(name), true) {}
};

}  // namespace nsal
