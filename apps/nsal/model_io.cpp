#include "apps/nsal/model_io.h"

#include <fmt/core.h>

#include "nn/checkpoint.h"
#include "nn/models/registry.h"

namespace nsal::app {

std::unique_ptr<Context> make_context(const std::string& device, int threads) {
  Device d = parse_device(device);
  auto ctx = std::make_unique<Context>(d);
  if (threads > 0) ctx->set_threads(threads);
  if (device == "auto") fmt::print(stderr, "device: {}\n", d.str());
  return ctx;
}

std::unique_ptr<Model> load_model(const std::string& checkpoint, Context& ctx) {
  CheckpointInfo info = read_checkpoint_info(checkpoint);
  std::unique_ptr<Model> m = make_model(info.spec);
  m->build(ctx.device(), 0);
  load_checkpoint(checkpoint, *m);
  m->set_training(false);
  return m;
}

}  // namespace nsal::app
