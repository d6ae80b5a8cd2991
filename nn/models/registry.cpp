#include "nn/models/registry.h"

#include "nn/models/drn.h"
#include "nn/models/mlp.h"
#include "nn/models/mnist_cnn.h"
#include "nn/models/mobilenet_v2.h"
#include "nn/models/resnet18.h"
#include "nn/models/resnet_cifar.h"

namespace nsal {

std::vector<std::string> model_names() {
  return {"mnist-cnn", "resnet18-cifar", "resnet18-3d", "resnet18", "drn-d-22",
          "mlp",       "mobilenet-v2"};
}

std::unique_ptr<Model> make_model(const ModelSpec& spec) {
  NSAL_CHECK(spec.in_channels >= 1 && spec.classes >= 1,
             "model '{}': in_channels and classes must be positive (got {} and {})", spec.arch,
             spec.in_channels, spec.classes);
  NSAL_CHECK(spec.hidden.empty() || spec.arch == "mlp",
             "model '{}': hidden widths are an mlp option", spec.arch);
  if (spec.arch == "mnist-cnn") return std::make_unique<MnistCnn>(spec.in_channels, spec.classes);
  if (spec.arch == "resnet18-cifar")
    return std::make_unique<ResNetCifar>(2, spec.in_channels, spec.classes);
  if (spec.arch == "resnet18-3d")
    return std::make_unique<ResNetCifar>(3, spec.in_channels, spec.classes);
  if (spec.arch == "resnet18") return std::make_unique<ResNet18>(spec.in_channels, spec.classes);
  if (spec.arch == "drn-d-22") return std::make_unique<DrnD22>(spec.in_channels, spec.classes);
  if (spec.arch == "mlp")
    return std::make_unique<Mlp>(spec.in_channels, spec.classes,
                                 spec.hidden.empty() ? Mlp::default_hidden() : spec.hidden);
  if (spec.arch == "mobilenet-v2")
    return std::make_unique<MobileNetV2>(spec.in_channels, spec.classes);
  std::string names;
  for (const auto& n : model_names())
    names += (names.empty() ? "" : ", ") + n;
  throw Error("model: unknown architecture '" + spec.arch + "'; expected one of " + names);
}

}  // namespace nsal
