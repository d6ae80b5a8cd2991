// Builds a model by its architecture name ("resnet18-cifar", "mnist-cnn", ...).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/model.h"

namespace nsal {

std::unique_ptr<Model> make_model(const ModelSpec& spec);
std::vector<std::string> model_names();

}  // namespace nsal
