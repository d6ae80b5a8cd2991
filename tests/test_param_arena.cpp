#include <gtest/gtest.h>

#include "nn/param_arena.h"
#include "tests/layer_test_util.h"

namespace nsal {

using testing::expect_error_mentions;

TEST(ParamArena, LaysOutAlignedSegmentsAndBindsViews) {
  ParamArena arena;
  Tensor w, gw, b, gb, rm;
  arena.add_param("layer1.0.conv1.weight", {4, 3, 3, 3}, "conv2d", ParamRole::weight, &w, &gw);
  arena.add_param("linear.bias", {10}, "linear", ParamRole::bias, &b, &gb);
  arena.add_buffer("bn1.running_mean", {4}, "batchnorm2d", &rm);
  arena.allocate(DType::f32, Device::cpu());

  EXPECT_EQ(arena.num_params(), 108 + 10);
  EXPECT_EQ(arena.param_infos()[1].offset % kArenaAlign, 0);
  EXPECT_EQ(arena.arena_size(), 128 + 64);
  EXPECT_EQ(w.shape(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(w.raw(), arena.params().raw());
  EXPECT_EQ(static_cast<float*>(gb.raw()),
            arena.grads().data<float>() + arena.param_infos()[1].offset);
  EXPECT_EQ(arena.groups(), (std::vector<std::string>{"layer1", "linear"}));
  EXPECT_EQ(arena.params_in_group("linear").size(), 1u);
  EXPECT_EQ(arena.find_param("linear.bias")->role, ParamRole::bias);
  EXPECT_EQ(rm.numel(), 4);
}

TEST(ParamArena, RejectsDuplicatesAndLateDeclarations) {
  ParamArena arena;
  Tensor a, ga;
  arena.add_param("fc.weight", {2, 2}, "linear", ParamRole::weight, &a, &ga);
  expect_error_mentions(
      [&] { arena.add_param("fc.weight", {2}, "linear", ParamRole::weight, &a, &ga); },
      {"fc.weight", "declared twice"});
  arena.allocate(DType::f32, Device::cpu());
  expect_error_mentions(
      [&] { arena.add_param("fc.bias", {2}, "linear", ParamRole::bias, &a, &ga); },
      {"fc.bias", "after the arena was allocated"});
}

TEST(ParamArena, MigrateKeepsValuesAcrossDtypes) {
  ParamArena arena;
  Tensor a, ga;
  arena.add_param("fc.weight", {3}, "linear", ParamRole::weight, &a, &ga);
  arena.allocate(DType::f32, Device::cpu());
  a.data<float>()[2] = 0.5f;
  arena.migrate(DType::f64, Device::cpu());
  EXPECT_EQ(a.dtype(), DType::f64);
  EXPECT_EQ(a.data<double>()[2], 0.5);
}

}  // namespace nsal
