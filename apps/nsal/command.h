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

// An option validator: a whole number of at least `min` ("expected an integer >= 1, got '0'").
CLI::Validator at_least(long long min);
// A finite number greater than 0 ("expected a finite number > 0, got 'inf'"), or, with
// zero_allowed, at least 0.
CLI::Validator finite_positive(bool zero_allowed = false);

}  // namespace nsal::app
