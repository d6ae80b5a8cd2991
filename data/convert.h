// What every converter shares: output options and the record of where the data came from.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace nsal::data {

struct ConvertOptions {
  std::string output;                    // the .h5 file to write
  bool force = false;                    // overwrite an existing output
  int deflate = 0;                       // gzip level for the arrays (0: none)
  int num_classes = 0;                   // 0: inferred (largest label + 1) where the format allows
  std::vector<std::string> class_names;  // overrides names found next to the source
  std::vector<float> mean, std;          // override the normalisation computed over train
  std::function<void(const std::string&)> log;  // progress and notes (nothing when empty)
  void note(const std::string& msg) const {
    if (log) log(msg);
  }
};

// The source files of a dataset: their names and SHA-256 sums, as DatasetInfo records them.
class SourceRecord {
 public:
  explicit SourceRecord(std::string format) : format_(std::move(format)) {}
  void add(const std::string& path);   // hashes the file
  void note(const std::string& text);  // a non-file input (generator settings)
  void apply(DatasetInfo& info) const;

 private:
  std::string format_;
  std::vector<std::string> names_;
  std::string sums_;
};

// Applies the options that override what the converter found (names, classes, normalisation).
void apply_overrides(const ConvertOptions& o, DatasetInfo& info);

// Comma-separated list ("a,b,c") into its items; empty items are kept.
std::vector<std::string> split_list(const std::string& s, char sep = ',');

// Built-in class names of well-known datasets: "mnist", "fashion-mnist", "cifar10", "svhn";
// empty for an unknown name.
std::vector<std::string> known_class_names(const std::string& dataset);

// Lines of a small text file (class names next to CIFAR batches), blank lines dropped.
std::vector<std::string> read_lines(const std::string& path);

// Largest label + 1 over all labels, for num_classes inference.
int infer_num_classes(const std::vector<const Tensor*>& labels);

}  // namespace nsal::data
