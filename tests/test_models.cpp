#include <gtest/gtest.h>

#include <random>

#include "gradcheck.h"
#include "model_test_util.h"
#include "nn/models/registry.h"
#include "tests/layer_test_util.h"

namespace nsal {

using testing::check_model_gradients;
using testing::expect_error_mentions;
using testing::fill_uniform;

TEST(Models, ResNet18CifarHasPyTorchNamesAndCounts) {
  auto m = make_model({"resnet18-cifar", 3, 10});
  m->build(Device::cpu(), 1);
  const ParamArena& a = m->arena();
  // torchvision-style count of the CIFAR ResNet-18 with 10 classes.
  EXPECT_EQ(a.num_params(), 11173962);
  EXPECT_EQ(a.param_infos().size(), 62u);
  EXPECT_EQ(a.param_infos().front().name, "conv1.weight");
  EXPECT_NE(a.find_param("layer2.0.shortcut.0.weight"), nullptr);
  EXPECT_NE(a.find_param("layer2.0.shortcut.1.bias"), nullptr);
  EXPECT_EQ(a.find_param("layer1.0.shortcut.0.weight"), nullptr);
  EXPECT_EQ(a.find_param("linear.weight")->shape, (Shape{10, 512}));
  EXPECT_EQ(a.find_param("layer3.1.conv2.weight")->shape, (Shape{256, 256, 3, 3}));
  EXPECT_NE(a.find_buffer("layer4.1.bn2.running_var"), nullptr);
}

TEST(Models, ForwardShapesAndFeatures) {
  Context ctx;
  {
    auto m = make_model({"mnist-cnn", 1, 10});
    m->build(Device::cpu(), 3);
    EXPECT_EQ(m->arena().num_params(),
              32 * 25 + 32 + 64 * 32 * 25 + 64 + 1024 * 128 + 128 + 128 * 10 + 10);
    Tensor x = Tensor::zeros({5, 1, 28, 28});
    EXPECT_EQ(m->forward(ctx, x).shape(), (Shape{5, 10}));
    EXPECT_EQ(m->features().shape(), (Shape{5, 128}));
    Tensor bad = Tensor::zeros({5, 1, 32, 32});
    EXPECT_THROW(m->forward(ctx, bad), ShapeError);
  }
  {
    auto m = make_model({"resnet18-3d", 1, 7});
    m->build(Device::cpu(), 3);
    // The PyTorch definition (resnet18-cifar with Conv3d / BatchNorm3d) has as many parameters.
    EXPECT_EQ(m->arena().num_params(), 33143367);
    Tensor x = Tensor::zeros({2, 1, 32, 32, 32});
    EXPECT_EQ(m->forward(ctx, x).shape(), (Shape{2, 7}));
    EXPECT_EQ(m->features().shape(), (Shape{2, 512}));
  }
  expect_error_mentions([&] { make_model({"vgg16", 3, 10}); }, {"unknown architecture", "vgg16"});
}

TEST(Models, MnistCnnGradientsMatchFiniteDifferences) {
  auto m = make_model({"mnist-cnn", 1, 4});
  check_model_gradients(*m, {2, 1, 28, 28}, {/*training=*/false});
}

TEST(Models, ResNet18CifarGradientsMatchFiniteDifferences) {
  auto m = make_model({"resnet18-cifar", 3, 3});
  check_model_gradients(*m, {2, 3, 32, 32}, {/*training=*/true, /*one_per_tensor=*/true});
}

}  // namespace nsal
