// `nsal data info FILE`: shapes, dtypes, classes, counts per class, checksums.
#include <fmt/core.h>

#include "apps/nsal/cmd_data.h"
#include "data/dataset_summary.h"
#include "kernels/error.h"

namespace nsal::app {

void print_dataset_summary(const std::string& path) {
  fmt::print("{}", data::format_summary(data::summarize(path)));
}

void setup_data_info(CLI::App& data) {
  auto* cmd = data.add_subcommand("info", "Show a dataset file: shapes, dtypes, classes, counts");
  auto file = std::make_shared<std::string>();
  auto verify = std::make_shared<bool>(false);
  cmd->add_option("file", *file, "Dataset file (.h5)")->required();
  cmd->add_flag("--verify", *verify, "Recompute the arrays' SHA-256 and compare with the record");
  cmd->callback([file, verify] {
    print_dataset_summary(*file);
    if (!*verify) return;
    auto bad = data::verify_checksums(*file);
    if (!bad.empty()) {
      std::string msg = *file + ": content checksums differ:";
      for (const auto& b : bad)
        msg += "\n  " + b;
      throw DataError(msg);
    }
    fmt::print("checksums: all arrays match their recorded sha256\n");
  });
}

}  // namespace nsal::app
