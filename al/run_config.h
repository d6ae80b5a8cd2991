// The configuration of an active-learning run (`nsal run`): read from a TOML file, overridden by
// flags, validated, and saved resolved into the run directory. Every field has a default so a
// config names only what differs. docs/cli.md lists the fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/math_mode.h"

namespace nsal::al {

// A sample count given either as a number ("50") or as a share of the training set ("10%").
struct Amount {
  double value = 0;
  bool percent = false;
  int64_t resolve(int64_t total) const;
  std::string str() const;
  static Amount parse(const std::string& text, const std::string& field);
};

struct TrainConfig {
  int epochs = 10;
  int batch_size = 64;
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = false;
  std::string schedule = "constant";  // constant | multistep | cosine
  std::vector<int> milestones;
  double gamma = 0.1;
  bool augment = false;  // random crop with padding + horizontal flip
  int crop_padding = 4;
  bool class_balanced = false;
  double clip_grad_norm = 0;  // 0: off
};

struct NoiseStabilityConfig {
  std::string preset = "paper";           // paper | released
  int draws = 10;                         // K
  double lambda = 1e-3;                   // noise magnitude relative to the weights
  std::string distribution = "gaussian";  // gaussian | uniform | laplace
  std::string magnitude = "adaptive";     // adaptive | constant
  std::vector<std::string> groups;        // layer groups that get noise; empty: all
  // auto | probs | logits | features. auto: probs (softmax over classes; per pixel for
  // segmentation), except for regression, whose raw outputs are compared (logits).
  std::string output = "auto";
  // On a GPU, the passes of a model with a fused inference path (resnet18-cifar, resnet18-3d;
  // nn/fuse.h) take it: BatchNorm folded into the convolutions, cuDNN's conv + bias + ReLU, and
  // under bf16 math the bf16 channels-last path. The CPU keeps the layer path, the reference
  // (fused is only a few per cent faster there).
  bool fused = true;
};

struct StrategyConfig {
  std::string name = "random";  // random | entropy | margin | least-confidence | noise-stability
                                // | mc-dropout | bald | coreset
  NoiseStabilityConfig ns;
  int mc_passes = 10;  // MC-dropout / BALD: T
  // mc-dropout: auto | entropy | variation-ratio | variance. auto: entropy, except for
  // regression, which scores the variance of the outputs.
  std::string mc_score = "auto";
  std::string label() const;  // "noise-stability(paper)", "entropy", ...
};

struct RunConfig {
  std::string dataset;  // HDF5 dataset file (nsal data convert)
  std::string model = "mnist-cnn";
  std::string device = "auto";
  int threads = 0;            // 0: OpenMP default
  std::string math = "fp32";  // CUDA math: fp32 (strict), tf32 or bf16; the CPU computes in fp32
  // GPU: cuDNN's convolution algorithms timed once per shape and direction (Context::
  // set_conv_autotune); off: chosen by heuristics, the same in every process.
  bool cudnn_autotune = false;
  uint64_t seed = 0;
  TrainConfig train;
  std::vector<StrategyConfig> strategies{StrategyConfig{}};
  Amount initial{50, false};
  Amount query{50, false};
  int cycles = 5;
  int trials = 1;
  int64_t unlabelled_subset = 0;  // score a random subset of this many (0: the whole pool)
  bool reinit_each_cycle = true;
  // Who labels the acquired samples: "dataset" (its training labels, the simulated oracle) or
  // "human" (the run stops for `nsal label import` whenever it needs labels; al/labels.h).
  std::string oracle = "dataset";
  int eval_batch = 512;
  int score_batch = 512;
  // On a GPU, evaluation and the inference passes of the strategies other than noise stability
  // (which follows [strategy.noise] fused) take the fused inference path of a model that has one
  // (al/training.h: fused_inference_rule).
  bool fused_inference = true;
  std::string out_dir = "runs/run";
};

// The CUDA math mode a config or flag names: "fp32" (strict), "tf32" or "bf16" (the names of
// math_mode_name); false for anything else.
bool parse_math_mode(const std::string& name, MathMode& out);

// Reads a TOML file; unknown keys and wrong types are errors naming the file and the field.
RunConfig load_run_config(const std::string& path);
// The resolved configuration a run saved (`RUN/config.toml`), for --resume: a field added after
// the run began keeps the behaviour the run began with (fused_inference false when absent).
RunConfig load_saved_run_config(const std::string& path);
RunConfig parse_run_config(const std::string& toml_text, const std::string& source_name);
// Checks ranges and names; throws nsal::Error naming the field.
void validate(const RunConfig& c);
// Settings that are valid but have no effect in this configuration (a momentum set for Adam,
// milestones without the multistep schedule), one message each naming the field; a new run or
// training prints them as warnings. Saved runs are not held to them.
std::vector<std::string> unused_settings(const RunConfig& c);
// The strategies a configuration may name (al/strategy_registry.cpp builds each).
const std::vector<std::string>& strategy_names();
// The checks of one strategy; `field` prefixes the field names ("strategy[0]").
void validate_strategy(const StrategyConfig& s, const std::string& field);
// The resolved configuration as TOML (round-trips through parse_run_config).
std::string to_toml(const RunConfig& c);

}  // namespace nsal::al
