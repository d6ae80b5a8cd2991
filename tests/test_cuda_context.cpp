// GPU handles in the Context, and the errors GPU ops give for bad use. The first tests run on
// every machine (they check the error paths without a GPU); the rest need a device.
#include <gtest/gtest.h>

#include "tests/cuda_test_util.h"

namespace nsal {
namespace {

// A GPU test of this file: skips with the reason when no device answers.
class CudaContextGpu : public testing::CudaTest {};

bool message_has(const std::exception& e, const std::string& part) {
  return std::string(e.what()).find(part) != std::string::npos;
}

TEST(CudaContext, CpuContextHasNoGpu) {
  Context ctx(Device::cpu());
  EXPECT_FALSE(ctx.gpu_started());
  try {
    ctx.gpu();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(message_has(e, "cpu")) << e.what();
  }
  EXPECT_NO_THROW(ctx.synchronize());
}

TEST(CudaContext, WithoutADeviceGpuNamesTheReason) {
  if (kernels::cuda_compiled() && kernels::cuda_device_count() > 0)
    GTEST_SKIP() << "a CUDA device answers; this test covers machines without one";
  Context ctx(Device::cuda(0));
  try {
    ctx.gpu();
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    EXPECT_TRUE(message_has(e, kernels::cuda_unavailable_reason())) << e.what();
  }
}

TEST(CudaContext, OpsWithoutHandlesNameThemselves) {
  kernels::GpuExec none;
  try {
    kernels::gpu::fill(none, nullptr, 0, 0.f);
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    EXPECT_TRUE(message_has(e, "fill")) << e.what();
  }
}

TEST_F(CudaContextGpu, HandlesAreCreatedOnFirstUse) {
  EXPECT_FALSE(ctx().gpu_started());
  kernels::GpuExec ex1 = ex();
  EXPECT_TRUE(ctx().gpu_started());
  kernels::GpuExec ex2 = ex();
  EXPECT_EQ(ex1.handles, ex2.handles);  // one set of handles per context
  EXPECT_EQ(ex1.math, MathMode::strict_fp32);
  EXPECT_TRUE(ex1.deterministic);  // the default: reproducible runs
  ctx().set_deterministic(false);
  ctx().set_math_mode(MathMode::tf32);
  EXPECT_FALSE(ex().deterministic);
  EXPECT_EQ(ex().math, MathMode::tf32);
  // Two contexts, two streams: they do not share handles.
  Context other(Device::cuda(0));
  EXPECT_NE(other.gpu().handles, ex1.handles);
}

TEST_F(CudaContextGpu, HostPointerIsRejectedBeforeLaunch) {
  std::vector<float> host(16, 1.f);
  Tensor dev = testing::gpu_zeros(16);
  try {
    kernels::gpu::relu_forward(ex(), 16, host.data(), testing::f32(dev));
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    EXPECT_TRUE(message_has(e, "relu_forward")) << e.what();
    EXPECT_TRUE(message_has(e, "not device memory")) << e.what();
  }
  EXPECT_THROW(kernels::gpu::relu_forward(ex(), 16, nullptr, testing::f32(dev)), CudaError);
  EXPECT_THROW(kernels::gpu::relu_forward(ex(), -1, testing::f32(dev), testing::f32(dev)),
               ShapeError);
  // The context is still usable after rejected calls.
  kernels::gpu::fill(ex(), testing::f32(dev), 16, 2.f);
  sync();
  EXPECT_EQ(testing::to_host(dev), std::vector<float>(16, 2.f));
}

TEST_F(CudaContextGpu, WorkspaceIsDeviceMemoryAndKeepsItsSize) {
  void* p = ctx().workspace(1 << 20);
  // An op accepts it (ops reject anything that is not device memory).
  EXPECT_NO_THROW(kernels::gpu::fill(ex(), static_cast<float*>(p), 1 << 18, 0.f));
  const size_t bytes = ctx().workspace_bytes();
  EXPECT_GE(bytes, size_t{1} << 20);
  EXPECT_EQ(ctx().workspace(1000), p);  // smaller requests reuse it
  EXPECT_EQ(ctx().workspace_bytes(), bytes);
}

}  // namespace
}  // namespace nsal
