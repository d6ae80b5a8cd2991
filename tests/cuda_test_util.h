// Helpers for the GPU tests: skip with the reason when no device answers, device buffers from
// host vectors and back, random data, and error statistics against a float64 reference.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda_ops.h"
#include "kernels/memory.h"
#include "nn/context.h"
#include "nn/tensor.h"
#include "tests/gpu_skip.h"
#include "tests/random_floats.h"

namespace nsal::testing {

// A GPU test: a cuda Context (strict fp32) and its exec.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NSAL_REQUIRE_GPU();
    ctx_ = std::make_unique<Context>(Device::cuda(0));
  }
  Context& ctx() { return *ctx_; }
  kernels::GpuExec ex() { return ctx_->gpu(); }
  void sync() { ctx_->synchronize(); }

 private:
  std::unique_ptr<Context> ctx_;
};

template <typename T>
Tensor to_gpu(const std::vector<T>& v) {
  Tensor t({static_cast<int64_t>(v.size())}, DTypeOf<T>::value, Device::cuda(0), "test buffer");
  kernels::copy_bytes(t.raw(), true, v.data(), false, v.size() * sizeof(T));
  return t;
}
inline Tensor gpu_zeros(size_t n, DType dt = DType::f32) {
  return Tensor::zeros({static_cast<int64_t>(n)}, dt, Device::cuda(0));
}
// A device buffer filled with NaN, to prove an op overwrites every element it should.
inline Tensor gpu_nans(size_t n) {
  return to_gpu(std::vector<float>(n, std::nanf("")));
}
template <typename T = float>
std::vector<T> to_host(const Tensor& t) {
  std::vector<T> v(static_cast<size_t>(t.numel()));
  kernels::copy_bytes(v.data(), false, t.raw(), t.device().is_cuda(), v.size() * sizeof(T));
  return v;
}
inline float* f32(const Tensor& t) {
  return t.data<float>();
}

inline std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

struct ErrorStats {
  double max_abs = 0;      // max |got - want|
  double max_rel = 0;      // max |got - want| / max(|want|, floor)
  double rel_l2 = 0;       // ||got - want|| / ||want||
  int64_t worst = -1;      // index of max_abs
  int64_t non_finite = 0;  // got NaN/inf where want is finite
};

inline ErrorStats compare(const std::vector<float>& got, const std::vector<double>& want,
                          double rel_floor = 1e-3) {
  ErrorStats s;
  double num = 0, den = 0;
  EXPECT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    if (!std::isfinite(got[i]) && std::isfinite(want[i])) {
      ++s.non_finite;
      continue;
    }
    double d = std::abs(static_cast<double>(got[i]) - want[i]);
    if (d > s.max_abs) {
      s.max_abs = d;
      s.worst = static_cast<int64_t>(i);
    }
    s.max_rel = std::max(s.max_rel, d / std::max(std::abs(want[i]), rel_floor));
    num += d * d;
    den += want[i] * want[i];
  }
  s.rel_l2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return s;
}

inline std::string describe(const ErrorStats& s, const std::vector<float>& got,
                            const std::vector<double>& want) {
  std::string r = "max_abs=" + std::to_string(s.max_abs) + " max_rel=" + std::to_string(s.max_rel) +
                  " rel_l2=" + std::to_string(s.rel_l2) +
                  " non_finite=" + std::to_string(s.non_finite);
  if (s.worst >= 0)
    r += " worst at [" + std::to_string(s.worst) + "]: got " +
         std::to_string(got[static_cast<size_t>(s.worst)]) + " want " +
         std::to_string(want[static_cast<size_t>(s.worst)]);
  return r;
}

// Elementwise: |got - want| <= atol + rtol |want| everywhere, and no NaN where want is finite.
inline void expect_close(const std::vector<float>& got, const std::vector<double>& want,
                         double atol, double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    bool ok = std::isnan(want[i]) ? std::isnan(got[i])
                                  : std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]);
    if (!ok && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i] << " (atol "
                    << atol << ", rtol " << rtol << ")";
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " elements out of tolerance";
}

// Whole-tensor: relative L2 error at most rel_l2, no non-finite values.
inline void expect_rel_l2(const std::vector<float>& got, const std::vector<double>& want,
                          double rel_l2, const std::string& what) {
  ErrorStats s = compare(got, want);
  EXPECT_EQ(s.non_finite, 0) << what << ": " << describe(s, got, want);
  EXPECT_LE(s.rel_l2, rel_l2) << what << ": " << describe(s, got, want);
}

}  // namespace nsal::testing
