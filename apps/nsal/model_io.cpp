#include "apps/nsal/model_io.h"

#include <fmt/core.h>

#include "al/run_config.h"
#include "al/training.h"
#include "apps/nsal/command.h"
#include "nn/checkpoint.h"
#include "nn/models/registry.h"

namespace nsal::app {

std::unique_ptr<Context> make_context(const std::string& device, int threads,
                                      const std::string& math) {
  Device d = parse_device(device);
  check_device_available(d);
  auto ctx = std::make_unique<Context>(d);
  if (threads > 0) ctx->set_threads(threads);
  if (device == "auto") fmt::print(stderr, "device: {}\n", d.str());
  MathMode m = MathMode::strict_fp32;
  NSAL_CHECK(al::parse_math_mode(math, m), "--math: expected fp32, tf32 or bf16, got '{}'", math);
  ctx->set_math_mode(m);
  if (m != MathMode::strict_fp32 && !d.is_cuda())
    fmt::print(stderr, "note: --math {} applies to CUDA; the CPU backend computes in fp32\n", math);
  return ctx;
}

void add_math_option(CLI::App& cmd, std::string& math) {
  cmd.add_option("--math", math,
                 "CUDA math: fp32 (strict, default), tf32 or bf16 (GEMMs in bf16; convolutions "
                 "as TF32, or in bf16 on the fused path of resnets)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
}

void add_exec_options(CLI::App& cmd, ExecArgs& e) {
  cmd.add_option("--device", e.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd.add_option("--threads", e.threads, "CPU threads (default: OpenMP's)")->check(at_least(1));
  add_math_option(cmd, e.math);
  cmd.add_flag("--cudnn-autotune", e.autotune,
               "GPU: time cuDNN's convolution algorithms once per shape and keep the "
               "fastest (results may then differ in the last bits between processes)");
  cmd.add_flag("--fused,!--no-fused", e.fused,
               "GPU: fused inference path of resnet models (BatchNorm folded, conv + bias + ReLU "
               "in one call; with --math bf16 bf16 channels-last); default on");
}

void add_checkpoint_data_options(CLI::App& cmd, std::string& checkpoint, std::string& dataset,
                                 std::string& split, const std::string& split_help) {
  cmd.add_option("checkpoint", checkpoint, "Trained model (.h5, from nsal train or nsal run)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd.add_option("--dataset", dataset, "HDF5 dataset file")->required()->check(CLI::ExistingFile);
  cmd.add_option("--split", split, split_help)
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
}

std::unique_ptr<Model> load_model(const std::string& checkpoint, Context& ctx, bool fused) {
  CheckpointInfo info = read_checkpoint_info(checkpoint);
  std::unique_ptr<Model> m = make_model(info.spec);
  m->build(ctx.device(), 0);
  load_checkpoint(checkpoint, *m);
  m->set_training(false);
  al::set_fused_inference_by_rule(*m, ctx, fused);
  return m;
}

}  // namespace nsal::app
