// What the model commands share: a context for --device, a model rebuilt from a checkpoint.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "nn/context.h"
#include "nn/model.h"

namespace nsal::app {

// math: "fp32" (strict), "tf32" or "bf16" (CUDA only; noted and ignored on the CPU).
std::unique_ptr<Context> make_context(const std::string& device, int threads,
                                      const std::string& math = "fp32");
// --math for a command (CUDA math mode), checked by CLI11.
void add_math_option(CLI::App& cmd, std::string& math);

// Where a model command computes: its --device, --threads and --math.
struct ExecArgs {
  std::string device = "auto";
  int threads = 0;  // 0: OpenMP's default
  std::string math = "fp32";
  bool autotune = false;  // --cudnn-autotune: forward convolutions timed once per shape (GPU)
  bool fused = true;      // --no-fused: GPU passes of resnets on the layer path (al/training.h)
};
void add_exec_options(CLI::App& cmd, ExecArgs& e);
// What a command that runs a checkpoint over a dataset split takes: the checkpoint (positional,
// an existing file), --dataset (an existing file) and --split (train or test; `split_help` says
// what it holds).
void add_checkpoint_data_options(CLI::App& cmd, std::string& checkpoint, std::string& dataset,
                                 std::string& split, const std::string& split_help);
inline std::unique_ptr<Context> make_context(const ExecArgs& e) {
  std::unique_ptr<Context> ctx = make_context(e.device, e.threads, e.math);
  ctx->set_conv_autotune(e.autotune);
  return ctx;
}
// Builds the checkpoint's architecture on ctx's device, loads its weights and sets its fused
// inference path by al::fused_inference_rule (fused: the --fused / --no-fused flag).
std::unique_ptr<Model> load_model(const std::string& checkpoint, Context& ctx, bool fused);

}  // namespace nsal::app
