// `nsal data`: the dataset format's tools (docs/data-format.md).
#include "apps/nsal/cmd_data.h"

#include "apps/nsal/command.h"

namespace nsal::app {

static CommandRegistrar reg("data", [](CLI::App& app) {
  auto* data = app.add_subcommand("data", "Convert, inspect and generate datasets (HDF5 format)");
  data->require_subcommand(1);
  setup_data_convert(*data);
  setup_data_info(*data);
  setup_data_synth(*data);
});

}  // namespace nsal::app
