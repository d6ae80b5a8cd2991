// resnet18 (ImageNet), drn-d-22, mlp and mobilenet-v2: PyTorch names and parameter counts,
// output shapes, input checks, and whole-model float64 gradient checks. The counts were computed
// with the PyTorch definitions in tests/torch/nsal_torch_models.py (torch 1.13); resnet18 and
// mobilenet-v2 with 1000 classes match torchvision's published 11,689,512 and 3,504,872.
#include <gtest/gtest.h>

#include "model_test_util.h"
#include "nn/models/mlp.h"
#include "nn/models/registry.h"
#include "tests/layer_test_util.h"

namespace nsal {

using testing::check_model_gradients;
using testing::expect_error_mentions;

namespace {
std::unique_ptr<Model> built(const ModelSpec& spec) {
  auto m = make_model(spec);
  m->build(Device::cpu(), 1);
  return m;
}
}  // namespace

TEST(ModelsMore, ResNet18HasTorchvisionNamesAndCounts) {
  EXPECT_EQ(built({"resnet18", 3, 1000})->arena().num_params(), 11689512);
  EXPECT_EQ(built({"resnet18", 1, 7})->arena().num_params(), 11173831);
  auto m = built({"resnet18", 3, 10});
  const ParamArena& a = m->arena();
  EXPECT_EQ(a.num_params(), 11181642);
  EXPECT_EQ(a.param_infos().size(), 62u);
  EXPECT_EQ(a.buffer_infos().size(), 60u);  // 20 BatchNorms x 3 (torch: 122 state_dict entries)
  EXPECT_EQ(a.param_infos().front().name, "conv1.weight");
  EXPECT_EQ(a.find_param("conv1.weight")->shape, (Shape{64, 3, 7, 7}));
  EXPECT_EQ(a.find_param("layer2.0.downsample.0.weight")->shape, (Shape{128, 64, 1, 1}));
  EXPECT_NE(a.find_param("layer4.0.downsample.1.bias"), nullptr);
  EXPECT_EQ(a.find_param("layer1.0.downsample.0.weight"), nullptr);
  EXPECT_EQ(a.find_param("layer2.1.downsample.0.weight"), nullptr);
  EXPECT_EQ(a.find_param("fc.weight")->shape, (Shape{10, 512}));
  EXPECT_NE(a.find_buffer("layer3.1.bn2.num_batches_tracked"), nullptr);
}

TEST(ModelsMore, ResNet18ShapesOnAnySize) {
  Context ctx;
  auto m = built({"resnet18", 3, 10});
  m->set_training(false);
  for (int64_t s : {224, 64, 33}) {
    Tensor x = Tensor::zeros({2, 3, s, s});
    EXPECT_EQ(m->forward(ctx, x).shape(), (Shape{2, 10})) << s;
    EXPECT_EQ(m->features().shape(), (Shape{2, 512}));
  }
  Tensor bad = Tensor::zeros({2, 1, 64, 64});
  EXPECT_THROW(m->forward(ctx, bad), ShapeError);
}

TEST(ModelsMore, DrnD22HasDrnNamesAndCounts) {
  EXPECT_EQ(built({"drn-d-22", 3, 5})->arena().num_params(), 15883317);
  auto m = built({"drn-d-22", 3, 19});
  const ParamArena& a = m->arena();
  EXPECT_EQ(a.num_params(), 15890499);
  EXPECT_EQ(a.param_infos().size(), 77u);
  EXPECT_EQ(a.buffer_infos().size(), 75u);  // torch: 152 state_dict entries
  EXPECT_EQ(a.find_param("layer0.0.weight")->shape, (Shape{16, 3, 7, 7}));
  EXPECT_EQ(a.find_param("layer0.1.weight")->shape, (Shape{16}));
  EXPECT_EQ(a.find_param("layer1.0.weight")->shape, (Shape{16, 16, 3, 3}));
  EXPECT_EQ(a.find_param("layer2.0.weight")->shape, (Shape{32, 16, 3, 3}));
  EXPECT_EQ(a.find_param("layer3.0.conv1.weight")->shape, (Shape{64, 32, 3, 3}));
  EXPECT_EQ(a.find_param("layer5.0.downsample.0.weight")->shape, (Shape{256, 128, 1, 1}));
  EXPECT_EQ(a.find_param("layer6.1.conv2.weight")->shape, (Shape{512, 512, 3, 3}));
  EXPECT_EQ(a.find_param("layer6.1.downsample.0.weight"), nullptr);
  EXPECT_EQ(a.find_param("layer7.0.weight")->shape, (Shape{512, 512, 3, 3}));
  EXPECT_EQ(a.find_param("layer7.0.bias"), nullptr);
  EXPECT_NE(a.find_buffer("layer8.1.running_var"), nullptr);
  EXPECT_EQ(a.find_param("seg.weight")->shape, (Shape{19, 512, 1, 1}));
  EXPECT_EQ(a.find_param("seg.bias")->shape, (Shape{19}));
  EXPECT_EQ(a.param_infos().back().name, "seg.bias");
}

TEST(ModelsMore, DrnD22SegmentsAtInputResolution) {
  Context ctx;
  auto m = built({"drn-d-22", 3, 4});
  m->set_training(false);
  Tensor x = Tensor::zeros({1, 3, 48, 64});
  EXPECT_EQ(m->forward(ctx, x).shape(), (Shape{1, 4, 48, 64}));
  EXPECT_EQ(m->features().shape(), (Shape{1, 512}));
  Tensor odd = Tensor::zeros({1, 3, 44, 64});
  EXPECT_THROW(m->forward(ctx, odd), ShapeError);
  Tensor flat = Tensor::zeros({1, 3, 64});
  EXPECT_THROW(m->forward(ctx, flat), ShapeError);
}

TEST(ModelsMore, MlpNamesCountsAndWidths) {
  auto m = built({"mlp", 20, 1});
  const ParamArena& a = m->arena();
  EXPECT_EQ(a.num_params(), 183297);
  std::vector<std::string> names;
  for (const auto& p : a.param_infos())
    names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                             "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias",
                                             "head.weight", "head.bias"}));
  EXPECT_EQ(a.find_param("fc1.weight")->shape, (Shape{512, 20}));
  EXPECT_EQ(a.find_param("head.weight")->shape, (Shape{1, 64}));
  EXPECT_EQ(a.groups().size(), 5u);  // every layer its own noise group

  ModelSpec spec{"mlp", 10, 3, {32, 16}};
  auto small = built(spec);
  EXPECT_EQ(small->arena().num_params(), 931);
  EXPECT_EQ(small->spec().hidden, (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(m->spec().hidden, Mlp::default_hidden());
  Context ctx;
  Tensor x = Tensor::zeros({7, 10});
  EXPECT_EQ(small->forward(ctx, x).shape(), (Shape{7, 3}));
  EXPECT_EQ(small->features().shape(), (Shape{7, 16}));
  Tensor bad = Tensor::zeros({7, 11});
  EXPECT_THROW(small->forward(ctx, bad), ShapeError);
  expect_error_mentions(
      [&] {
        make_model({"mlp", 10, 3, {32, 0}});
      },
      {"hidden width 2", "must be positive"});
  expect_error_mentions(
      [&] {
        make_model({"resnet18", 3, 10, {32}});
      },
      {"hidden widths", "mlp option"});
}

TEST(ModelsMore, MobileNetV2HasTorchvisionNamesAndCounts) {
  EXPECT_EQ(built({"mobilenet-v2", 3, 1000})->arena().num_params(), 3504872);
  auto m = built({"mobilenet-v2", 3, 10});
  const ParamArena& a = m->arena();
  EXPECT_EQ(a.num_params(), 2236682);
  EXPECT_EQ(a.param_infos().size(), 158u);
  EXPECT_EQ(a.buffer_infos().size(), 156u);  // torch: 314 state_dict entries
  EXPECT_EQ(a.find_param("features.0.0.weight")->shape, (Shape{32, 3, 3, 3}));
  // t = 1 block: depthwise conv.0, projection conv.1 and its BN conv.2.
  EXPECT_EQ(a.find_param("features.1.conv.0.0.weight")->shape, (Shape{32, 1, 3, 3}));
  EXPECT_EQ(a.find_param("features.1.conv.1.weight")->shape, (Shape{16, 32, 1, 1}));
  EXPECT_NE(a.find_param("features.1.conv.2.bias"), nullptr);
  // t = 6 block: expand conv.0, depthwise conv.1, projection conv.2, BN conv.3.
  EXPECT_EQ(a.find_param("features.2.conv.0.0.weight")->shape, (Shape{96, 16, 1, 1}));
  EXPECT_EQ(a.find_param("features.2.conv.1.0.weight")->shape, (Shape{96, 1, 3, 3}));
  EXPECT_EQ(a.find_param("features.2.conv.2.weight")->shape, (Shape{24, 96, 1, 1}));
  EXPECT_NE(a.find_buffer("features.17.conv.3.running_mean"), nullptr);
  EXPECT_EQ(a.find_param("features.18.0.weight")->shape, (Shape{1280, 320, 1, 1}));
  EXPECT_EQ(a.find_param("classifier.1.weight")->shape, (Shape{10, 1280}));
}

TEST(ModelsMore, MobileNetV2KeepsCifarResolution) {
  Context ctx;
  auto m = built({"mobilenet-v2", 3, 10});
  m->set_training(false);
  Tensor x = Tensor::zeros({2, 3, 32, 32});
  EXPECT_EQ(m->forward(ctx, x).shape(), (Shape{2, 10}));
  EXPECT_EQ(m->features().shape(), (Shape{2, 1280}));
  // The stem and the 24-channel stage keep 32x32; three stride-2 stages leave 4x4 before the
  // last 1x1 conv (features.18).
  int found = 0;
  for (const auto& l : m->layers()) {
    if (l->name() == "features.3.conv.2") {
      EXPECT_EQ(l->output().shape(), (Shape{2, 24, 32, 32}));
      ++found;
    }
    if (l->name() == "features.18.2") {
      EXPECT_EQ(l->output().shape(), (Shape{2, 1280, 4, 4}));
      ++found;
    }
  }
  EXPECT_EQ(found, 2) << "the layers checked above were renamed";
}

TEST(ModelsMore, ResNet18GradientsMatchFiniteDifferences) {
  auto m = make_model({"resnet18", 3, 3});
  check_model_gradients(*m, {2, 3, 48, 48}, {/*training=*/true, /*one_per_tensor=*/true});
}

TEST(ModelsMore, DrnD22GradientsMatchFiniteDifferences) {
  auto m = make_model({"drn-d-22", 2, 3});
  check_model_gradients(*m, {2, 2, 16, 16}, {true, true, /*tensor_stride=*/2});
}

TEST(ModelsMore, MlpGradientsMatchFiniteDifferences) {
  ModelSpec spec{"mlp", 6, 2, {16, 12, 8}};
  auto m = make_model(spec);
  check_model_gradients(*m, {5, 6}, {/*training=*/true});
}

TEST(ModelsMore, MobileNetV2GradientsMatchFiniteDifferences) {
  auto m = make_model({"mobilenet-v2", 3, 4});
  check_model_gradients(*m, {2, 3, 16, 16}, {true, true, /*tensor_stride=*/2});
}

}  // namespace nsal
