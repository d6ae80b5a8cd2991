// What the model commands share: a context for --device, a model rebuilt from a checkpoint.
#pragma once

#include <memory>
#include <string>

#include "nn/context.h"
#include "nn/model.h"

namespace nsal::app {

std::unique_ptr<Context> make_context(const std::string& device, int threads);
// Builds the checkpoint's architecture on ctx's device and loads its weights.
std::unique_ptr<Model> load_model(const std::string& checkpoint, Context& ctx);

}  // namespace nsal::app
