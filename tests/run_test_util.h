// Helpers for the tests that drive `nsal run` through the command line and compare run
// directories: the nsal binary, a shell runner, and the parts of a run that must match.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "al/atomic_file.h"
#include "data/csv.h"

namespace nsal::testing {

// The nsal binary, single-threaded so that runs are quick and comparable.
inline const std::string kNsal = "OMP_NUM_THREADS=1 " + std::string(NSAL_BINARY_DIR) + "/nsal";

inline int run_shell(const std::string& cmd) {
  return std::system(cmd.c_str());
}

// metrics.csv rows without the two timing columns ("" when there is none yet).
inline std::string metrics_without_times(const std::string& dir) {
  if (!al::file_exists(dir + "/metrics.csv")) return "";
  std::string text = al::read_file(dir + "/metrics.csv");
  data::CsvTable t = data::parse_csv(text.data(), text.size(), dir + "/metrics.csv");
  std::string out;
  for (const auto& r : t.rows)
    out +=
        r[0] + "," + r[1] + "," + r[2] + "," + r[3] + "," + r[4] + "," + r[5] + "," + r[8] + "\n";
  return out;
}

// Every initial.txt, labelled.txt and selected.txt of a run, by relative path.
inline std::string labelled_sets(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name == "labelled.txt" || name == "selected.txt" || name == "initial.txt")
      files.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(files.begin(), files.end());
  std::string out;
  for (const auto& f : files)
    out += f + "\n" + al::read_file(dir + "/" + f);
  return out;
}

}  // namespace nsal::testing
