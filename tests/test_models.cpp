#include <gtest/gtest.h>

#include <random>

#include "gradcheck.h"
#include "nn/models/registry.h"

namespace nsal {

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
    Tensor x = Tensor::zeros({2, 1, 32, 32, 32});
    EXPECT_EQ(m->forward(ctx, x).shape(), (Shape{2, 7}));
    EXPECT_EQ(m->features().shape(), (Shape{2, 512}));
  }
  EXPECT_THROW(make_model({"vgg16", 3, 10}), Error);
}

// Whole-model finite differences in float64 on a sample of parameters of every tensor.
static void check_model_gradients(Model& m, const Shape& in_shape, bool training,
                                  bool one_per_tensor = false) {
  Context ctx;
  std::mt19937_64 rng(11);
  m.build(Device::cpu(), 5, DType::f64);
  m.set_training(training);
  Tensor x(in_shape, DType::f64);
  fill_uniform(x, rng);
  Tensor r(m.forward(ctx, x).shape(), DType::f64);
  fill_uniform(r, rng);
  m.arena().zero_grad();
  m.forward(ctx, x);
  m.backward(ctx, r);
  Tensor grads = m.arena().grads().clone();
  double* p = m.arena().params().data<double>();
  auto loss = [&] { return testing::sum_product(m.forward(ctx, x), r); };
  int checked = 0, bad = 0;
  for (const ParamInfo& info : m.arena().param_infos()) {
    std::vector<int64_t> picks = {info.numel / 2};
    if (!one_per_tensor) picks = {0, info.numel / 2, info.numel - 1};
    for (int64_t j : picks) {
      int64_t i = info.offset + j;
      double keep = p[i];
      // A small step: a deep ReLU network has many units near their kink, and a step that flips
      // one of them biases the central difference.
      const double eps = 1e-8;
      p[i] = keep + eps;
      double lp = loss();
      p[i] = keep - eps;
      double lm = loss();
      p[i] = keep;
      double numeric = (lp - lm) / (2 * eps);
      double analytic = grads.data<double>()[i];
      ++checked;
      if (std::abs(numeric - analytic) > 1e-6 + 1e-5 * std::abs(numeric) && bad++ < 5)
        ADD_FAILURE() << info.name << "[" << j << "]: analytic " << analytic << " numeric "
                      << numeric;
    }
  }
  EXPECT_EQ(bad, 0) << "of " << checked;
}

TEST(Models, MnistCnnGradientsMatchFiniteDifferences) {
  auto m = make_model({"mnist-cnn", 1, 4});
  check_model_gradients(*m, {2, 1, 28, 28}, /*training=*/false);
}

TEST(Models, ResNet18CifarGradientsMatchFiniteDifferences) {
  auto m = make_model({"resnet18-cifar", 3, 3});
  check_model_gradients(*m, {2, 3, 32, 32}, /*training=*/true, /*one_per_tensor=*/true);
}

}  // namespace nsal
