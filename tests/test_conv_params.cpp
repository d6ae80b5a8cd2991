// Convolution / pooling geometry and its validation (kernels/conv_params.h).
#include <gtest/gtest.h>

#include "kernels/conv_params.h"

namespace nsal {
namespace {

kernels::ConvParams basic() {
  kernels::ConvParams p;
  p.n = 8;
  p.c_in = 16;
  p.c_out = 32;
  p.in[0] = p.in[1] = 32;
  p.kernel[0] = p.kernel[1] = 3;
  p.pad[0] = p.pad[1] = 1;
  return p;
}

TEST(ConvParams, OutputSizeFollowsPyTorch) {
  kernels::ConvParams p = basic();
  EXPECT_EQ(p.out(0), 32);
  p.stride[0] = 2;
  EXPECT_EQ(p.out(0), 16);
  p.dilation[1] = 2;  // (32 + 2 - 2*2 - 1) / 1 + 1
  EXPECT_EQ(p.out(1), 30);
  EXPECT_EQ(p.w_numel(), 32 * 16 * 9);
  EXPECT_DOUBLE_EQ(p.macs(), 8.0 * 32 * 16 * 30 * 16 * 9);
}

TEST(ConvParams, ValidationNamesTheCallerAndTheProblem) {
  kernels::ConvParams p = basic();
  EXPECT_NO_THROW(kernels::check_conv_params(p, "conv1"));
  p.groups = 3;
  try {
    kernels::check_conv_params(p, "layer1.0.conv1");
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("layer1.0.conv1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("groups"), std::string::npos) << e.what();
  }
  p = basic();
  p.in[0] = 1;
  p.pad[0] = 0;
  EXPECT_THROW(kernels::check_conv_params(p, "conv"), ShapeError);  // kernel larger than input
  p = basic();
  p.spatial = 4;
  EXPECT_THROW(kernels::check_conv_params(p, "conv"), ShapeError);
}

TEST(PoolParams, ValidationFollowsPyTorchRules) {
  kernels::PoolParams p;
  p.n = 1;
  p.c = 3;
  p.in[0] = p.in[1] = 8;
  p.kernel[0] = p.kernel[1] = 3;
  p.stride[0] = p.stride[1] = 2;
  p.pad[0] = p.pad[1] = 1;
  EXPECT_NO_THROW(kernels::check_pool_params(p, "pool"));
  EXPECT_EQ(p.out(0), 4);
  p.pad[0] = 2;  // more than half the window
  EXPECT_THROW(kernels::check_pool_params(p, "pool"), ShapeError);
}

}  // namespace
}  // namespace nsal
