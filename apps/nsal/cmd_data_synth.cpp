// `nsal data synth cryoet|images|regression|segmentation -o OUT`: generated datasets.
#include <fmt/core.h>

#include <memory>

#include "apps/nsal/cmd_data.h"
#include "data/synth.h"

namespace nsal::app {

namespace {

struct OutArgs {
  std::string output;
  bool force = false;
  int deflate = 0;
};

void add_output(CLI::App* cmd, OutArgs& o) {
  cmd->add_option("-o,--output", o.output, "Dataset file to write (.h5)")->required();
  cmd->add_flag("--force", o.force, "Overwrite an existing output file");
  cmd->add_option("--deflate", o.deflate, "gzip level 0-9 for the stored arrays")
      ->check(CLI::Range(0, 9));
}

data::ConvertOptions convert_options(const OutArgs& o) {
  data::ConvertOptions c;
  c.output = o.output;
  c.force = o.force;
  c.deflate = o.deflate;
  c.log = [](const std::string& m) { fmt::print("synth: {}\n", m); };
  return c;
}

void setup_cryoet(CLI::App& synth) {
  auto* cmd = synth.add_subcommand(
      "cryoet", "Synthetic cryo-ET subtomograms (32^3, like the paper's 50c-snr003 set)");
  auto o = std::make_shared<data::CryoEtOptions>();
  auto out = std::make_shared<OutArgs>();
  add_output(cmd, *out);
  cmd->add_option("--classes", o->classes, "Number of classes (density templates)")
      ->capture_default_str();
  cmd->add_option("--train-per-class", o->train_per_class, "Training samples per class")
      ->capture_default_str();
  cmd->add_option("--test-per-class", o->test_per_class, "Test samples per class")
      ->capture_default_str();
  cmd->add_option("--size", o->size, "Volume side (voxels)")->capture_default_str();
  cmd->add_option("--snr", o->snr, "Signal variance over noise variance")->capture_default_str();
  cmd->add_option("--min-blobs", o->min_blobs, "Fewest Gaussian blobs per template")
      ->capture_default_str();
  cmd->add_option("--max-blobs", o->max_blobs, "Most Gaussian blobs per template")
      ->capture_default_str();
  cmd->add_option("--max-shift", o->max_shift, "Largest shift per axis (voxels)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed")->capture_default_str();
  cmd->callback([o, out] {
    data::write_synth_cryoet(*o, convert_options(*out));
    fmt::print("wrote {}\n", out->output);
    print_dataset_summary(out->output);
  });
}

void setup_small(CLI::App& synth, const char* name, data::SynthKind kind, const char* help) {
  auto* cmd = synth.add_subcommand(name, help);
  auto o = std::make_shared<data::SynthOptions>();
  auto out = std::make_shared<OutArgs>();
  add_output(cmd, *out);
  cmd->add_option("--train", o->train, "Training samples")->capture_default_str();
  cmd->add_option("--test", o->test, "Test samples")->capture_default_str();
  if (kind != data::SynthKind::regression) {
    cmd->add_option("--classes", o->classes, "Number of classes")->capture_default_str();
    cmd->add_option("--size", o->size, "Image side (pixels)")->capture_default_str();
    cmd->add_option("--channels", o->channels, "Image channels")->capture_default_str();
  } else {
    cmd->add_option("--features", o->features, "Input features")->capture_default_str();
  }
  cmd->add_option("--noise", o->noise, "Standard deviation of the added noise")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed")->capture_default_str();
  cmd->callback([o, out, kind] {
    data::write_synth(kind, *o, convert_options(*out));
    fmt::print("wrote {}\n", out->output);
    print_dataset_summary(out->output);
  });
}

}  // namespace

void setup_data_synth(CLI::App& data) {
  auto* synth = data.add_subcommand("synth", "Generate a synthetic dataset");
  synth->require_subcommand(1);
  setup_cryoet(*synth);
  setup_small(*synth, "images", data::SynthKind::images,
              "Small image classification set (class patterns of Gaussian blobs)");
  setup_small(*synth, "regression", data::SynthKind::regression,
              "Small regression set: y = sin(2 x0) + 0.5 x1^2 + w.x + noise");
  setup_small(*synth, "segmentation", data::SynthKind::segmentation,
              "Small segmentation set: rectangles and discs over a background");
}

}  // namespace nsal::app
