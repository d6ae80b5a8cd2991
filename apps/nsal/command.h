// Subcommands register themselves here; main() builds the CLI from the registry, so adding a
// subcommand is one new file in apps/nsal/.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace nsal::app {

using CommandSetup = std::function<void(CLI::App& parent)>;

struct CommandRegistrar {
  CommandRegistrar(const std::string& name, CommandSetup setup);
};

// Calls every registered setup, in name order.
void setup_all_commands(CLI::App& app);

}  // namespace nsal::app
