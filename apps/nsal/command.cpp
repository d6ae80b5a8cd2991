#include "apps/nsal/command.h"

#include <map>

namespace nsal::app {

static std::map<std::string, CommandSetup>& registry() {
  static std::map<std::string, CommandSetup> r;
  return r;
}

CommandRegistrar::CommandRegistrar(const std::string& name, CommandSetup setup) {
  registry()[name] = std::move(setup);
}

void setup_all_commands(CLI::App& app) {
  for (auto& [name, setup] : registry())
    setup(app);
}

}  // namespace nsal::app
