// `nsal data`: convert, info and synth subcommands, one file each.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace nsal::app {

void setup_data_convert(CLI::App& data);
void setup_data_info(CLI::App& data);
void setup_data_synth(CLI::App& data);

// Prints the summary of a dataset file (what `nsal data info` prints).
void print_dataset_summary(const std::string& path);

}  // namespace nsal::app
