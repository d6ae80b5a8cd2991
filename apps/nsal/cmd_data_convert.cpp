// `nsal data convert --format F INPUT -o OUT`: brings a dataset into the HDF5 format once.
#include <fmt/core.h>

#include <map>
#include <memory>
#include <set>

#include "apps/nsal/cmd_data.h"
#include "apps/nsal/command.h"
#include "data/cifar.h"
#include "data/cityscapes.h"
#include "data/csv.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/svhn.h"
#include "kernels/error.h"

namespace nsal::app {

namespace {

struct ConvertArgs {
  std::string format, input, output;
  bool force = false;
  int deflate = 0;
  int num_classes = 0;
  std::string class_names;
  std::vector<float> mean, std;
  std::string label = "fine";
  int resize = 256, crop = 224;
  bool keep_files = false;
  double max_inline_gib = 8;
  double test_fraction = -1;  // -1: the format's default
  uint64_t seed = 0;
  std::vector<std::string> exclude;
  int threads = 0;
  std::string size = "512x256";
  std::string target, test_file, na, sep = ",";
  std::vector<std::string> drop, categorical;
  bool log_target = false;
};

const std::set<std::string> kPresets = {"mnist", "fashion-mnist", "cifar10", "svhn"};

void run_convert(const ConvertArgs& a, const std::map<std::string, CLI::Option*>& specific,
                 const std::map<std::string, std::set<std::string>>& formats_of) {
  for (const auto& [name, opt] : specific)
    if (opt->count() > 0 && !formats_of.at(name).count(a.format)) {
      std::string allowed;
      for (const auto& f : formats_of.at(name))
        allowed += (allowed.empty() ? "" : ", ") + f;
      throw Error(
          fmt::format("{} does not apply to --format {} (only to {})", name, a.format, allowed));
    }
  data::ConvertOptions o;
  o.output = a.output;
  o.force = a.force;
  o.deflate = a.deflate;
  o.num_classes = a.num_classes;
  o.mean = a.mean;
  o.std = a.std;
  o.log = [](const std::string& m) { fmt::print("convert: {}\n", m); };
  std::string preset;
  if (kPresets.count(a.class_names))
    preset = a.class_names;
  else if (!a.class_names.empty())
    o.class_names = data::split_list(a.class_names);
  if (!preset.empty() && a.format != "idx") o.class_names = data::known_class_names(preset);

  if (a.format == "idx") {
    data::convert_idx(data::find_idx_files(a.input), o, preset);
  } else if (a.format == "cifar10" || a.format == "cifar100") {
    NSAL_CHECK(a.label == "fine" || a.label == "coarse", "--label is fine or coarse, not '{}'",
               a.label);
    data::convert_cifar(
        a.input, a.format == "cifar10" ? data::CifarKind::cifar10 : data::CifarKind::cifar100,
        a.label == "coarse", o);
  } else if (a.format == "svhn") {
    data::convert_svhn(a.input, o);
  } else if (a.format == "imagefolder") {
    data::ImageFolderOptions f;
    f.resize = a.resize;
    f.crop = a.crop;
    f.keep_files = a.keep_files;
    f.max_inline_bytes = static_cast<int64_t>(a.max_inline_gib * 1073741824.0);
    if (a.test_fraction >= 0) f.test_fraction = a.test_fraction;
    f.seed = a.seed;
    f.exclude_classes = a.exclude;
    f.threads = a.threads;
    data::convert_image_folder(a.input, f, o);
  } else if (a.format == "cityscapes") {
    data::CityscapesOptions c;
    int w = 0, h = 0;
    char x = 0;
    NSAL_CHECK(std::sscanf(a.size.c_str(), "%d%c%d", &w, &x, &h) == 3 && x == 'x' && w > 0 && h > 0,
               "--size '{}' is not WIDTHxHEIGHT (e.g. 512x256)", a.size);
    c.width = w;
    c.height = h;
    c.threads = a.threads;
    data::convert_cityscapes(a.input, c, o);
  } else if (a.format == "csv") {
    data::CsvOptions c;
    c.target = a.target;
    c.drop = a.drop;
    c.categorical = a.categorical;
    if (!a.na.empty()) c.na_values = data::split_list(a.na);
    c.test_file = a.test_file;
    if (a.test_fraction >= 0) c.test_fraction = a.test_fraction;
    c.seed = a.seed;
    c.log_target = a.log_target;
    NSAL_CHECK(a.sep.size() == 1, "--sep must be one character, got '{}'", a.sep);
    c.sep = a.sep[0];
    NSAL_CHECK(!c.target.empty(), "--format csv needs --target COLUMN");
    data::convert_csv(a.input, c, o);
  }
  fmt::print("wrote {}\n", a.output);
  print_dataset_summary(a.output);
}

}  // namespace

void setup_data_convert(CLI::App& data) {
  auto* cmd = data.add_subcommand(
      "convert", "Convert IDX, CIFAR, SVHN, image folders, Cityscapes or CSV into a dataset file");
  auto a = std::make_shared<ConvertArgs>();
  cmd->add_option("--format", a->format, "Source format")
      ->required()
      ->check(CLI::IsMember(
          {"idx", "cifar10", "cifar100", "svhn", "imagefolder", "cityscapes", "csv"}));
  cmd->add_option("input", a->input,
                  "Source: a folder (idx, cifar*, svhn, imagefolder, cityscapes) or a CSV file")
      ->required();
  cmd->add_option("-o,--output", a->output, "Dataset file to write (.h5)")->required();
  cmd->add_flag("--force", a->force, "Overwrite an existing output file");
  cmd->add_option("--deflate", a->deflate, "gzip level 0-9 for the stored arrays")
      ->check(CLI::Range(0, 9));
  cmd->add_option("--class-names", a->class_names,
                  "Comma-separated class names, or a known set: mnist, fashion-mnist, cifar10, "
                  "svhn");
  cmd->add_option("--mean", a->mean, "Per-channel normalisation mean (instead of train's)")
      ->delimiter(',');
  cmd->add_option("--std", a->std, "Per-channel normalisation std")->delimiter(',');

  std::map<std::string, CLI::Option*> specific;
  std::map<std::string, std::set<std::string>> formats_of;
  auto add = [&](CLI::Option* opt, std::set<std::string> formats) {
    std::string name = opt->get_name();
    specific[name] = opt;
    formats_of[name] = std::move(formats);
  };
  add(cmd->add_option("--num-classes", a->num_classes,
                      "Number of classes (default: largest label + 1); labels must be below it")
          ->check(at_least(1)),
      {"idx"});
  add(cmd->add_option("--label", a->label, "CIFAR-100 labels: fine (100) or coarse (20)")
          ->check(CLI::IsMember({"fine", "coarse"})),
      {"cifar100"});
  add(cmd->add_option("--resize", a->resize, "Shorter image side after resizing (0: none)")
          ->check(at_least(0)),
      {"imagefolder"});
  add(cmd->add_option("--crop", a->crop, "Center crop size")->check(at_least(1)), {"imagefolder"});
  add(cmd->add_flag("--keep-files", a->keep_files,
                    "Store image paths; the loader decodes, resizes and crops them"),
      {"imagefolder"});
  add(cmd->add_option("--max-inline-gib", a->max_inline_gib,
                      "Keep images as files when decoding all would exceed this")
          ->check(finite_positive(true)),
      {"imagefolder"});
  add(cmd->add_option("--test-fraction", a->test_fraction,
                      "Share of rows/images for the test split when there is no test set "
                      "(imagefolder 0.2, csv 0.5)")
          ->check(finite_positive()),
      {"imagefolder", "csv"});
  add(cmd->add_option("--seed", a->seed, "Seed of the train/test split"), {"imagefolder", "csv"});
  add(cmd->add_option("--exclude", a->exclude, "Class folders to leave out")->delimiter(','),
      {"imagefolder"});
  add(cmd->add_option("--threads", a->threads, "Decoding threads (0: all)")->check(at_least(0)),
      {"imagefolder", "cityscapes"});
  add(cmd->add_option("--size", a->size, "Cityscapes size WIDTHxHEIGHT after resizing"),
      {"cityscapes"});
  add(cmd->add_option("--target", a->target, "CSV column to predict"), {"csv"});
  add(cmd->add_option("--drop", a->drop, "CSV columns to leave out")->delimiter(','), {"csv"});
  add(cmd->add_option("--categorical", a->categorical,
                      "CSV columns to one-hot encode even if numeric")
          ->delimiter(','),
      {"csv"});
  add(cmd->add_option("--na", a->na,
                      "Comma-separated tokens meaning missing (default: empty,NA,N/A,NaN,nan,"
                      "null,NULL)"),
      {"csv"});
  add(cmd->add_option("--test", a->test_file, "A separate CSV test table"), {"csv"});
  add(cmd->add_flag("--log-target", a->log_target, "Predict log(target)"), {"csv"});
  add(cmd->add_option("--sep", a->sep, "CSV field separator"), {"csv"});
  cmd->callback([a, specific, formats_of] { run_convert(*a, specific, formats_of); });
}

}  // namespace nsal::app
