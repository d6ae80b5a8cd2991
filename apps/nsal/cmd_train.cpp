// `nsal train`: trains a model on a dataset's whole training split, evaluating the test split
// after every epoch; writes the checkpoint, the per-epoch history and the resolved config.
#include <fmt/core.h>

#include "al/atomic_file.h"
#include "al/training.h"
#include "apps/nsal/command.h"
#include "apps/nsal/model_io.h"
#include "data/loader.h"
#include "nn/checkpoint.h"
#include "nn/models/registry.h"

namespace nsal::app {

namespace {
struct TrainArgs {
  std::string config, dataset, model, out, device, optimizer, schedule, math;
  int epochs = 0, batch = 0, threads = 0;
  double lr = 0, weight_decay = -1, momentum = -1, gamma = 0;
  std::vector<int> milestones;
  int64_t seed = -1;
  bool augment = false, class_balanced = false, quiet = false, no_fused = false, autotune = false,
       force = false;
};

void run_train(const TrainArgs& a) {
  al::RunConfig cfg;
  if (!a.config.empty()) cfg = al::load_run_config(a.config);
  if (!a.dataset.empty()) cfg.dataset = a.dataset;
  if (!a.model.empty()) cfg.model = a.model;
  if (!a.device.empty()) cfg.device = a.device;
  if (a.threads > 0) cfg.threads = a.threads;
  if (!a.math.empty()) cfg.math = a.math;
  if (a.seed >= 0) cfg.seed = static_cast<uint64_t>(a.seed);
  if (a.epochs > 0) cfg.train.epochs = a.epochs;
  if (a.batch > 0) cfg.train.batch_size = a.batch;
  if (a.lr > 0) cfg.train.lr = a.lr;
  if (a.weight_decay >= 0) cfg.train.weight_decay = a.weight_decay;
  if (a.momentum >= 0) cfg.train.momentum = a.momentum;
  if (!a.milestones.empty()) cfg.train.milestones = a.milestones;
  if (a.gamma > 0) cfg.train.gamma = a.gamma;
  if (!a.optimizer.empty()) cfg.train.optimizer = a.optimizer;
  if (!a.schedule.empty()) cfg.train.schedule = a.schedule;
  if (a.augment) cfg.train.augment = true;
  if (a.class_balanced) cfg.train.class_balanced = true;
  if (a.no_fused) cfg.fused_inference = false;
  if (a.autotune) cfg.cudnn_autotune = true;
  cfg.out_dir = a.out;
  al::validate(cfg);
  for (const std::string& w : al::unused_settings(cfg))
    fmt::print(stderr, "warning: {}: {}\n", a.config.empty() ? "nsal train" : a.config, w);
  NSAL_CHECK(!cfg.dataset.empty(), "nsal train: no dataset (--dataset or 'dataset' in the config)");
  NSAL_CHECK(a.force || !al::file_exists(a.out + "/checkpoint.h5"),
             "{}/checkpoint.h5 exists; pass --force to overwrite it", a.out);

  // Everything that can fail before training does so before the output folder is made.
  data::Dataset train = data::read_for_loader(cfg.dataset, "train");
  data::Dataset test = data::read_for_loader(cfg.dataset, "test");
  auto ctx = make_context(cfg.device, cfg.threads, cfg.math);
  ctx->set_conv_autotune(cfg.cudnn_autotune);
  ModelSpec spec{cfg.model, train.channels(), train.num_outputs()};
  std::unique_ptr<Model> model = make_model(spec);
  model->build(ctx->device(), cfg.seed);
  al::check_model_fits(*model, train);
  al::check_model_runs(*model, *ctx, train);
  al::set_fused_inference_by_rule(*model, *ctx, cfg.fused_inference);  // the evaluations
  al::make_dirs(a.out);
  al::write_file_atomic(a.out + "/config.toml", al::to_toml(cfg));
  al::Progress progress(a.quiet);
  std::string history = "epoch,train_loss,test_metric,test_value,seconds,images_per_second\n";
  al::train_model(*model, *ctx, train, data::all_indices(train.size()), cfg.train, cfg.seed,
                  progress, cfg.model, [&](const al::EpochStats& e) {
                    al::EvalResult ev = al::evaluate(*model, *ctx, test, cfg.eval_batch);
                    history +=
                        fmt::format("{},{:.6f},{},{:.6f},{:.3f},{:.1f}\n", e.epoch + 1, e.loss,
                                    ev.metric, ev.value, e.seconds, e.images_per_second);
                    al::write_file_atomic(a.out + "/history.csv", history);
                    progress.line(
                        fmt::format("epoch {}/{}  loss {:.4f}  test {} {:.4f}  {:.1f}s  "
                                    "{:.0f} img/s",
                                    e.epoch + 1, cfg.train.epochs, e.loss, ev.metric, ev.value,
                                    e.seconds, e.images_per_second));
                  });
  CheckpointMeta meta;
  meta.epoch = cfg.train.epochs;
  meta.seed = cfg.seed;
  save_checkpoint(a.out + "/checkpoint.h5", *model, nullptr, meta);
  fmt::print("wrote {}/checkpoint.h5, {}/history.csv, {}/config.toml\n", a.out, a.out, a.out);
}
}  // namespace

static CommandRegistrar reg("train", [](CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a model on a dataset's training split");
  cmd->add_option("--config", a->config, "TOML config (the [train] table and model fields)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--dataset", a->dataset, "HDF5 dataset file")->check(CLI::ExistingFile);
  cmd->add_option("--model", a->model, "Architecture");
  cmd->add_option("-o,--out", a->out, "Output directory")->required();
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N or auto");
  cmd->add_option("--threads", a->threads, "CPU threads")->check(at_least(1));
  add_math_option(*cmd, a->math);
  cmd->add_option("--seed", a->seed, "Seed of initialisation and shuffling")->check(at_least(0));
  cmd->add_option("--epochs", a->epochs, "Epochs")->check(at_least(1));
  cmd->add_option("--batch-size", a->batch, "Batch size")->check(at_least(1));
  cmd->add_option("--optimizer", a->optimizer, "sgd, adam or adamw");
  cmd->add_option("--lr", a->lr, "Learning rate")->check(finite_positive());
  cmd->add_option("--weight-decay", a->weight_decay, "Weight decay")->check(finite_positive(true));
  cmd->add_option("--momentum", a->momentum, "SGD momentum")->check(finite_positive(true));
  cmd->add_option("--schedule", a->schedule, "constant, multistep or cosine");
  cmd->add_option("--milestones", a->milestones,
                  "multistep: epochs at which the learning rate is multiplied by --gamma")
      ->delimiter(',')
      ->check(at_least(1));
  cmd->add_option("--gamma", a->gamma, "multistep: the factor at each milestone (default 0.1)")
      ->check(finite_positive());
  cmd->add_flag("--augment", a->augment, "Random crop with padding and horizontal flip");
  cmd->add_flag("--class-balanced", a->class_balanced, "Inverse-frequency class weights");
  cmd->add_flag("--cudnn-autotune", a->autotune,
                "GPU: time cuDNN's convolution algorithms once per shape and keep the fastest "
                "(results may then differ in the last bits between runs)");
  cmd->add_flag("--no-fused", a->no_fused,
                "GPU: the evaluations of a resnet on the layer path (fused_inference = false)");
  cmd->add_flag("--force", a->force, "Overwrite a checkpoint already in the output folder");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress output");
  cmd->callback([a] { run_train(*a); });
});

}  // namespace nsal::app
