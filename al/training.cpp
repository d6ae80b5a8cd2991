#include "al/training.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "data/loader.h"
#include "nn/kill_point.h"
#include "nn/losses.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/optimizer.h"

namespace nsal::al {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::unique_ptr<Optimizer> make_optimizer(ParamArena& arena, const TrainConfig& cfg) {
  if (cfg.optimizer == "sgd") {
    SgdOptions o;
    o.lr = static_cast<float>(cfg.lr);
    o.momentum = static_cast<float>(cfg.momentum);
    o.weight_decay = static_cast<float>(cfg.weight_decay);
    o.nesterov = cfg.nesterov;
    return std::make_unique<Sgd>(arena, o);
  }
  AdamOptions o;
  o.lr = static_cast<float>(cfg.lr);
  o.weight_decay = static_cast<float>(cfg.weight_decay);
  o.decoupled = cfg.optimizer == "adamw";
  return std::make_unique<Adam>(arena, o);
}

// Inverse-frequency class weights over the labelled subset (classes absent from it get 0).
std::vector<double> balanced_weights(const data::Dataset& d, const std::vector<int64_t>& subset) {
  std::vector<double> counts(static_cast<size_t>(d.num_classes), 0.0);
  const int32_t* y = d.y.data<int32_t>();
  for (int64_t i : subset)
    counts[static_cast<size_t>(y[i])] += 1;
  std::vector<double> w(counts.size(), 0.0);
  double present = 0;
  for (double c : counts)
    present += c > 0;
  for (size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0) w[c] = static_cast<double>(subset.size()) / (present * counts[c]);
  return w;
}

// Batch tensors on the context's device (host batches are copied; buffers are reused).
struct DeviceBatch {
  Tensor x, y;
  const Tensor* px = nullptr;
  const Tensor* py = nullptr;
  void load(const data::Batch& b, Device device) {
    if (device.is_cpu()) {
      px = &b.x;
      py = &b.y;
      return;
    }
    x.resize(b.x.shape(), b.x.dtype(), device, "input batch");
    y.resize(b.y.shape(), b.y.dtype(), device, "label batch");
    x.copy_from(b.x);
    y.copy_from(b.y);
    px = &x;
    py = &y;
  }
};

// Regression targets standardised with the dataset's statistics, shaped like the outputs.
void standardise_targets(const data::Dataset& d, const Tensor& y, const Shape& out_shape,
                         Tensor& dst, Device device) {
  Tensor host = Tensor(out_shape, DType::f32);
  const float* src = y.data<float>();
  float* out = host.data<float>();
  int64_t t = out_shape.size() > 1 ? out_shape[1] : 1;
  NSAL_CHECK_AS(ShapeError, y.numel() == host.numel(),
                "{}: {} regression targets per batch do not fit the model's outputs {}",
                d.where("y"), y.numel(), shape_str(out_shape));
  for (int64_t i = 0; i < host.numel(); ++i) {
    out[i] = (src[i] - d.target_mean_of(i % t)) / d.target_std_of(i % t);
  }
  dst.resize(out_shape, DType::f32, device, "regression targets");
  dst.copy_from(host);
}

data::LoaderOptions loader_options(int64_t batch, bool shuffle, uint64_t seed) {
  data::LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.seed = seed;
  o.normalize = true;
  return o;
}

}  // namespace

std::vector<EpochStats> train_model(Model& model, Context& ctx, const data::Dataset& train,
                                    const std::vector<int64_t>& subset, const TrainConfig& cfg,
                                    uint64_t seed, Progress& progress, const std::string& label,
                                    const std::function<void(const EpochStats&)>& on_epoch) {
  NSAL_CHECK(!subset.empty(), "{}: nothing to train on (the labelled set is empty)", label);
  data::LoaderOptions lo = loader_options(cfg.batch_size, true, seed);
  if (cfg.augment && train.sample_shape().size() >= 3) {  // images (C, H, W), volumes (C, D, H, W)
    lo.augment.crop_padding = cfg.crop_padding;
    lo.augment.hflip = true;
  }
  data::Loader loader(train, subset, lo);
  std::unique_ptr<Optimizer> opt = make_optimizer(model.arena(), cfg);
  LrSchedule sched = LrSchedule::parse(cfg.schedule, cfg.lr, cfg.epochs, cfg.milestones, cfg.gamma);

  CrossEntropyOptions ce_opt;
  if (train.task == data::Task::segmentation && train.ignore_index >= 0)
    ce_opt.ignore_index = train.ignore_index;
  if (cfg.class_balanced && train.task == data::Task::classification)
    ce_opt.class_weights = balanced_weights(train, subset);
  CrossEntropyLoss ce(ce_opt);
  MSELoss mse;
  const bool regression = train.task == data::Task::regression;

  model.set_training(true);
  std::vector<EpochStats> stats;
  DeviceBatch db;
  Tensor targets;
  data::Batch batch;
  const int64_t batches = loader.batches_per_epoch();
  auto start = Clock::now();
  for (int e = 0; e < cfg.epochs; ++e) {
    auto t0 = Clock::now();
    opt->set_lr(static_cast<float>(sched.lr_at(e)));
    loader.start_epoch(e);
    double loss_sum = 0;
    int64_t seen = 0, b = 0;
    while (loader.next(batch)) {
      db.load(batch, ctx.device());
      // The whole step is queued before the loss is read (on a GPU the one host wait of the
      // step comes after the optimizer's kernels, not between forward and backward).
      opt->zero_grad(ctx);
      const Tensor& out = model.forward(ctx, *db.px);
      if (regression) {
        standardise_targets(train, batch.y, out.shape(), targets, ctx.device());
        mse.forward_async(ctx, out, targets);
        model.backward(ctx, mse.backward(ctx));
      } else {
        ce.forward_async(ctx, out, *db.py);
        model.backward(ctx, ce.backward(ctx));
      }
      if (cfg.clip_grad_norm > 0) opt->clip_grad_norm(ctx, cfg.clip_grad_norm);
      opt->step(ctx);
      // A non-finite loss (on a GPU also a label out of range, which cross-entropy reports here)
      // throws after this step has changed the weights; the run stops, nothing of it is saved.
      const double loss = regression ? mse.loss_value() : ce.loss_value();
      NSAL_CHECK(std::isfinite(loss), "{}: the loss became {} at epoch {}, batch {} (lr {})", label,
                 loss, e + 1, b + 1, opt->lr());
      kill_point("train-batch");
      loss_sum += loss * static_cast<double>(batch.size());
      seen += batch.size();
      ++b;
      double elapsed = seconds_since(start);
      double done =
          static_cast<double>(e * batches + b) / static_cast<double>(cfg.epochs * batches);
      progress.update(fmt::format("{}  epoch {}/{}  batch {}/{}  loss {:.4f}  {:.0f} img/s  ETA {}",
                                  label, e + 1, cfg.epochs, b, batches, loss_sum / seen,
                                  seen / seconds_since(t0),
                                  format_duration(elapsed / done - elapsed)));
    }
    EpochStats s;
    s.epoch = e;
    s.loss = loss_sum / static_cast<double>(seen);
    s.seconds = seconds_since(t0);
    s.images_per_second = static_cast<double>(seen) / s.seconds;
    stats.push_back(s);
    if (on_epoch) {
      on_epoch(s);
      model.set_training(true);
    }
  }
  model.set_training(false);
  model.release_training_arena();  // its memory goes to the evaluation and acquisition after
  return stats;
}

void forward_in_pieces(Model& model, Context& ctx, const Tensor& x, int64_t first, int64_t& piece,
                       bool features, const OutputFn& fn, const int64_t* dataset_indices) {
  const int64_t rows = x.dim(0);
  for (int64_t done = 0; done < rows;) {
    const int64_t count = std::min(piece, rows - done);
    Tensor slice;  // a view of rows [done, done + count) when x is cut
    if (count < rows) slice = x.slice0(done, done + count);
    if (model.mc_dropout()) {
      if (dataset_indices)
        model.set_mc_row_keys(dataset_indices + done, count);
      else
        model.set_mc_first_position(first + done);
    }
    // Only the model's own pass shrinks the batch: memory that fn fails to get (a cache of the
    // caller's, sized by the whole pool) is not the batch's, and its error goes to the caller.
    const Tensor* out = nullptr;
    try {
      out = &model.infer(ctx, count < rows ? slice : x);
    } catch (const Error& e) {
      // Out of memory, or tensors beyond cuDNN's 32-bit indexing: a smaller batch may go.
      const bool oom = dynamic_cast<const OutOfMemoryError*>(&e) != nullptr;
      if ((!oom && !dynamic_cast<const BatchTooLargeError*>(&e)) || count <= 1) throw;
      piece = (count + 1) / 2;
      fmt::print(stderr, "{}: {} with a batch of {}; going on with batches of {}\n", model.arch(),
                 oom ? "out of memory" : fmt::format("too large ({})", e.what()), count, piece);
      continue;
    }
    fn(first + done, count, features ? model.features() : *out);
    done += count;
  }
}

int64_t run_inference(Model& model, Context& ctx, const data::Dataset& d,
                      const std::vector<int64_t>& subset, int batch_size, const OutputFn& fn,
                      bool features) {
  if (subset.empty()) return batch_size;
  int64_t piece = inference_batch(model, ctx, d, subset[0], batch_size);
  data::Loader loader(d, subset, loader_options(piece, false, 0));
  TrainingModeScope eval(model, false);
  DeviceBatch db;
  data::Batch batch;
  int64_t first = 0;
  while (loader.next(batch)) {
    db.load(batch, ctx.device());
    forward_in_pieces(model, ctx, *db.px, first, piece, features, fn, batch.indices.data());
    first += batch.size();
  }
  return piece;
}

int64_t inference_batch(Model& model, Context& ctx, const data::Dataset& d, int64_t probe,
                        int64_t requested, size_t budget_bytes) {
  if (!ctx.device().is_cpu() || requested <= 1) return requested;
  data::Loader loader(d, {probe}, loader_options(1, false, 0));
  data::Batch b;
  NSAL_CHECK(loader.next(b), "inference: cannot load sample {} of {}", probe, d.where("x"));
  {
    TrainingModeScope eval(model, false);
    model.infer(ctx, b.x);
  }
  // The inference plan's arena per sample; without a plan every layer that ran keeps its output.
  size_t per_sample = model.infer_uses_plan() ? model.inference_bytes_per_sample() : 0;
  if (per_sample == 0)
    for (const auto& layer : model.layers())
      if (layer->output().defined()) per_sample += layer->output().nbytes();
  const int64_t fits = static_cast<int64_t>(budget_bytes / std::max<size_t>(per_sample, 1));
  return std::max<int64_t>(1, std::min(requested, fits));
}

bool fused_inference_rule(const Model& model, const Context& ctx, bool wanted) {
  return wanted && ctx.device().is_cuda() && model.supports_fused_inference();
}

bool set_fused_inference_by_rule(Model& model, const Context& ctx, bool wanted) {
  const bool on = fused_inference_rule(model, ctx, wanted);
  model.set_fused_inference(on);
  return on;
}

void check_model_fits(const Model& model, const data::Dataset& d) {
  const Shape want = model.input_shape(), got = d.sample_shape();
  bool shape_ok = want.size() == got.size();
  for (size_t i = 0; shape_ok && i < want.size(); ++i)
    shape_ok = want[i] < 0 || want[i] == got[i];
  std::string want_text = shape_str(want);  // "(3, -1, -1)" -> "(3, *, *)": any size
  for (size_t at = want_text.find("-1"); at != std::string::npos; at = want_text.find("-1"))
    want_text.replace(at, 2, "*");
  NSAL_CHECK_AS(ShapeError, shape_ok, "model '{}' takes samples {}, but {} holds samples {}",
                model.arch(), want_text, d.where("x"), shape_str(got));
  const bool segmentation = d.task == data::Task::segmentation;
  NSAL_CHECK_AS(ShapeError, model.per_pixel_outputs() == segmentation,
                "model '{}' {}, but {} is a {} dataset", model.arch(),
                model.per_pixel_outputs() ? "segments (per-pixel outputs)"
                                          : "gives one output vector per sample",
                d.file.empty() ? std::string("the data") : d.file, data::task_name(d.task));
  if (d.task == data::Task::regression) {
    const int64_t targets = d.num_outputs();
    NSAL_CHECK_AS(ShapeError, model.num_outputs() == targets,
                  "model '{}' gives {} outputs, but {} holds {} regression target{}", model.arch(),
                  model.num_outputs(), d.where("y"), targets, targets == 1 ? "" : "s");
  } else {
    NSAL_CHECK_AS(ShapeError, model.num_outputs() == d.num_classes,
                  "model '{}' predicts {} classes, but {} has {} ({}): a checkpoint trained on "
                  "another dataset?",
                  model.arch(), model.num_outputs(), d.where("y"), d.num_classes,
                  data::task_name(d.task));
  }
}

void check_model_runs(Model& model, Context& ctx, const data::Dataset& d) {
  data::Loader loader(d, {0}, loader_options(1, false, 0));
  data::Batch b;
  NSAL_CHECK(loader.next(b), "{}: cannot load a sample", d.where("x"));
  TrainingModeScope eval(model, false);
  try {
    DeviceBatch db;
    db.load(b, ctx.device());
    model.infer(ctx, *db.px);
  } catch (const OutOfMemoryError&) {  // a matter of the batch, not of the sample's shape
  } catch (const Error& e) {
    throw Error(fmt::format("model '{}' cannot run on the samples of {}: {}", model.arch(),
                            d.file.empty() ? std::string("the data") : d.file, e.what()));
  }
}

EvalResult evaluate(Model& model, Context& ctx, const data::Dataset& test, int batch_size) {
  check_model_fits(model, test);
  EvalResult r;
  r.samples = test.size();
  std::vector<int64_t> all = data::all_indices(test.size());
  const int C = test.num_classes;
  std::vector<int64_t> confusion;  // segmentation: (C, C) truth x prediction
  if (test.task == data::Task::segmentation) confusion.assign(static_cast<size_t>(C) * C, 0);
  double correct = 0, abs_err = 0, loss_sum = 0;
  int64_t count = 0;
  run_inference(model, ctx, test, all, batch_size, [&](int64_t first, int64_t n, const Tensor& o) {
    Tensor host = o.device().is_cpu() ? Tensor() : o.to(Device::cpu());
    const Tensor& out = o.device().is_cpu() ? o : host;
    const float* p = out.data<float>();
    if (test.task == data::Task::regression) {
      const float* y = test.y.data<float>();
      int64_t t = out.numel() / n;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < t; ++j) {
          double pred = p[i * t + j] * test.target_std_of(j) + test.target_mean_of(j);
          double err = pred - y[(first + i) * t + j];
          abs_err += std::abs(err);
          loss_sum += err * err;
          ++count;
        }
      return;
    }
    const int32_t* y = test.y.data<int32_t>();
    int64_t pixels = out.numel() / (n * C);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t q = 0; q < pixels; ++q) {
        int32_t truth = y[(first + i) * pixels + q];
        if (test.task == data::Task::segmentation && truth == test.ignore_index) continue;
        const float* row = p + i * C * pixels + q;
        int best = 0;
        double mx = row[0];
        for (int c = 1; c < C; ++c)
          if (row[c * pixels] > mx) mx = row[c * pixels], best = c;
        double lse = 0;
        for (int c = 0; c < C; ++c)
          lse += std::exp(row[c * pixels] - mx);
        loss_sum += std::log(lse) + mx - row[truth * pixels];
        ++count;
        if (test.task == data::Task::segmentation)
          ++confusion[static_cast<size_t>(truth) * C + best];
        else
          correct += best == truth;
      }
    }
  });
  r.loss = count ? loss_sum / static_cast<double>(count) : 0.0;
  if (test.task == data::Task::regression) {
    r.metric = "MAE";
    r.value = count ? abs_err / static_cast<double>(count) : 0.0;
  } else if (test.task == data::Task::segmentation) {
    r.metric = "mIoU";
    double iou_sum = 0;
    int present = 0;
    for (int c = 0; c < C; ++c) {
      int64_t tp = confusion[static_cast<size_t>(c) * C + c], fp = 0, fn = 0;
      for (int k = 0; k < C; ++k) {
        if (k == c) continue;
        fn += confusion[static_cast<size_t>(c) * C + k];
        fp += confusion[static_cast<size_t>(k) * C + c];
      }
      if (tp + fp + fn == 0) continue;
      iou_sum += static_cast<double>(tp) / static_cast<double>(tp + fp + fn);
      ++present;
    }
    r.value = present ? iou_sum / present : 0.0;
  } else {
    r.metric = "accuracy";
    r.value = count ? correct / static_cast<double>(count) : 0.0;
  }
  return r;
}

}  // namespace nsal::al
