#include "al/loop.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "al/annotation.h"
#include "al/atomic_file.h"
#include "al/environment.h"
#include "al/file_lock.h"
#include "al/labels.h"
#include "al/noise_stability.h"
#include "al/run_fingerprint.h"
#include "al/seeds.h"
#include "al/strategy.h"
#include "al/training.h"
#include "data/loader.h"
#include "data/sha256.h"
#include "kernels/memory.h"
#include "nn/checkpoint.h"
#include "nn/kill_point.h"
#include "nn/models/registry.h"

namespace nsal::al {

namespace {

nlohmann::json row_json(const MetricsRow& r) {
  return {{"trial", r.trial},
          {"strategy", r.strategy},
          {"cycle", r.cycle},
          {"labelled", r.labelled},
          {"metric", r.metric},
          {"value", r.value},
          {"train_seconds", r.train_seconds},
          {"acquisition_seconds", r.acquisition_seconds},
          {"seed", r.seed}};
}

// A cycle's done.json (text), parsed; `row` is its metrics row.
nlohmann::json read_done_json(const std::string& text, const std::string& where, MetricsRow& row) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    row.trial = j.at("trial").get<int>();
    row.strategy = j.at("strategy").get<std::string>();
    row.cycle = j.at("cycle").get<int>();
    row.labelled = j.at("labelled").get<int64_t>();
    row.metric = j.at("metric").get<std::string>();
    row.value = j.at("value").get<double>();
    row.train_seconds = j.at("train_seconds").get<double>();
    row.acquisition_seconds = j.at("acquisition_seconds").get<double>();
    row.seed = j.at("seed").get<uint64_t>();
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: not a metrics row: {}", where, e.what()));
  }
}

void write_metrics(const std::string& dir, const std::vector<MetricsRow>& rows) {
  std::string csv = std::string(kMetricsCsvHeader) + "\n";
  std::string jsonl;
  for (const MetricsRow& r : rows) {
    csv +=
        fmt::format("{},{},{},{},{},{:.6f},{:.3f},{:.3f},{}\n", r.trial, r.strategy, r.cycle,
                    r.labelled, r.metric, r.value, r.train_seconds, r.acquisition_seconds, r.seed);
    jsonl += row_json(r).dump() + "\n";
  }
  write_file_atomic(dir + "/metrics.csv", csv);
  write_file_atomic(dir + "/metrics.jsonl", jsonl);
}

std::vector<int64_t> sorted_union(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  NSAL_CHECK(std::adjacent_find(a.begin(), a.end()) == a.end(),
             "labelled set: a sample was selected twice");
  return a;
}

std::vector<int64_t> complement(const std::vector<int64_t>& sorted, int64_t n) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n) - sorted.size());
  size_t j = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (j < sorted.size() && sorted[j] == i)
      ++j;
    else
      out.push_back(i);
  }
  return out;
}

class Runner {
 public:
  // `event`: "start" or "resume", as environment.jsonl records it.
  Runner(RunConfig cfg, std::string dir, Progress& progress, std::string event)
      : cfg_(std::move(cfg)), dir_(std::move(dir)), progress_(progress), event_(std::move(event)) {}

  // Everything that can be checked before a run directory exists: the dataset, the amounts,
  // the device, and the model with each strategy's options (built once on the CPU). Run
  // directories are created only for runs that can go.
  void prepare() {
    train_ = data::read_for_loader(cfg_.dataset, "train");
    test_ = data::read_for_loader(cfg_.dataset, "test");
    NSAL_CHECK(test_.task == train_.task, "{}: the train and test splits disagree on the task",
               cfg_.dataset);
    device_ = parse_device(cfg_.device);
    check_device_available(device_);
    const int64_t n = train_.size();
    initial_ = cfg_.initial.resolve(n);
    budget_ = cfg_.query.resolve(n);
    NSAL_CHECK(initial_ >= 1,
               "field 'initial': {} of the {} training samples is none; ask for at "
               "least one",
               cfg_.initial.str(), n);
    NSAL_CHECK(budget_ >= 1 || cfg_.cycles == 1,
               "field 'query': {} of the {} training samples "
               "is none; ask for at least one",
               cfg_.query.str(), n);
    NSAL_CHECK(initial_ <= n && (cfg_.cycles == 1 || budget_ <= (n - initial_) / (cfg_.cycles - 1)),
               "initial set {} plus {} acquisitions of {} do not fit the {} training samples",
               initial_, cfg_.cycles - 1, budget_, n);
    NSAL_CHECK(cfg_.oracle != "human" ||
                   (train_.task == data::Task::classification && annotation_shows_samples(train_)),
               "{}: oracle = \"human\" needs a classification dataset of images people can look "
               "at (2-D, 1 or 3 channels), not {} samples {}",
               cfg_.dataset, data::task_name(train_.task), shape_str(train_.sample_shape()));
    std::unique_ptr<Model> probe = make_model(model_spec());
    probe->build(Device::cpu(), 0);
    check_model_fits(*probe, train_);
    Context cpu;
    check_model_runs(*probe, cpu, train_);
    for (size_t i = 0; i < cfg_.strategies.size(); ++i) {
      const StrategyConfig& s = cfg_.strategies[i];
      try {
        check_strategy_fits(s, *probe, train_.task);
      } catch (const Error& e) {
        throw Error(fmt::format("field 'strategy[{}]': {}", i, e.what()));
      }
      if (s.name != "noise-stability") continue;
      try {
        noise_output(s.ns, train_.task);
      } catch (const Error& e) {
        throw Error(fmt::format("field 'strategy[{}].noise.output': {}", i, e.what()));
      }
      try {
        noise_segments(probe->arena(), s.ns);
      } catch (const Error& e) {
        throw Error(fmt::format("field 'strategy[{}].noise.groups': {}", i, e.what()));
      }
    }
    prepared_ = true;
  }

  // Takes run.lock (for the Runner's lifetime): refuses when another process works on the run.
  void lock() {
    if (lock_) return;
    lock_ = std::make_unique<FileLock>(
        dir_ + "/run.lock", FileLock::Wait::refuse,
        fmt::format("{}: another nsal process is working on this run directory; wait for it to "
                    "end (or stop it), then resume it or choose another --out",
                    dir_));
  }

  RunSummary run() {
    lock();
    if (!prepared_) prepare();
    Context ctx(device_);
    if (cfg_.threads > 0) ctx.set_threads(cfg_.threads);
    MathMode math = MathMode::strict_fp32;
    parse_math_mode(cfg_.math, math);  // validated with the config
    ctx.set_math_mode(math);
    ctx.set_conv_autotune(cfg_.cudnn_autotune);
    if (math != MathMode::strict_fp32 && !device_.is_cuda())
      progress_.line(
          fmt::format("note: math = \"{}\" applies to CUDA; the CPU computes in fp32", cfg_.math));
    record_environment(dir_, ctx, event_);
    progress_.line(fmt::format("nsal run: {} ({} train / {} test samples), model {}, device {}",
                               cfg_.dataset, train_.size(), test_.size(), cfg_.model,
                               device_.str()));
    const int64_t n = train_.size(), initial = initial_, budget = budget_;

    std::vector<MetricsRow> rows;
    for (int t = 0; t < cfg_.trials; ++t) {
      std::string tdir = fmt::format("{}/trial_{}", dir_, t);
      make_dirs(tdir);
      // The initial set follows from (seed, trial): a resumed trial's initial.txt must hold it.
      std::vector<int64_t> order =
          seeded_shuffle(data::all_indices(n), derive_seed(cfg_.seed, t, 0, SeedUse::initial_set));
      std::vector<int64_t> init_set(order.begin(), order.begin() + initial);
      std::sort(init_set.begin(), init_set.end());
      if (file_exists(tdir + "/initial.txt"))
        NSAL_CHECK(read_indices(tdir + "/initial.txt") == init_set,
                   "{}/initial.txt: not the initial set of this run's seed and trial (edited?); "
                   "put the original back or start a new run",
                   tdir);
      else
        write_indices(tdir + "/initial.txt", init_set);
      for (const StrategyConfig& s : cfg_.strategies) {
        if (!run_strategy(ctx, t, s, init_set, budget, rows)) return {dir_, rows, waiting_};
      }
    }
    if (event_ == "resume" && cycles_run_ == 0)
      progress_.line("every cycle had finished before this resume: nothing left to run");
    progress_.line("\n" + summary_table(rows));
    progress_.line(fmt::format("run directory: {} (metrics.csv, metrics.jsonl)", dir_));
    return {dir_, rows, ""};
  }

 private:
  // oracle = "human": puts the stored labels of `labelled` into the training split, or, when
  // some have none yet, writes the annotation folder for them and returns false (the run stops).
  bool apply_human_labels(int cycle, const std::vector<int64_t>& labelled) {
    const LabelMap store = read_label_store(label_store_path(dir_));
    std::vector<int64_t> missing;
    for (int64_t i : labelled)
      if (!store.count(i)) missing.push_back(i);
    if (!missing.empty()) {
      waiting_ = annotation_dir(dir_, cycle);
      if (!file_exists(waiting_ + "/requested.txt"))
        write_annotation_folder(train_, missing, waiting_);
      progress_.line(fmt::format("cycle {}/{}: waiting for the labels of {} samples ({})",
                                 cycle + 1, cfg_.cycles, missing.size(), waiting_));
      return false;
    }
    // labels.csv is written by `nsal label import`, which checks every label, but it is a text
    // file people may edit: a class out of range would index past the class counts.
    int32_t* y = train_.y.data<int32_t>();
    for (int64_t i : labelled) {
      const int32_t label = store.at(i);
      NSAL_CHECK_AS(DataError, label < train_.num_classes,
                    "{}: sample {} has class {}, but the dataset has {} classes (0-{}); correct "
                    "the file (nsal label import checks what it merges)",
                    label_store_path(dir_), i, label, train_.num_classes, train_.num_classes - 1);
      y[i] = label;
    }
    return true;
  }

  bool run_strategy(Context& ctx, int t, const StrategyConfig& s, std::vector<int64_t> labelled,
                    int64_t budget, std::vector<MetricsRow>& rows) {
    const std::string sdir = fmt::format("{}/trial_{}/{}", dir_, t, strategy_dir_name(s.label()));
    std::unique_ptr<Strategy> strategy = make_strategy(s);
    std::unique_ptr<Model> model;
    for (int c = 0; c < cfg_.cycles; ++c) {
      const std::string cdir = fmt::format("{}/cycle_{}", sdir, c);
      if (file_exists(cdir + "/done.json")) {  // completed before: replay from disk
        rows.push_back(replay_cycle(cdir, c, budget, labelled));
        model.reset();  // a later cycle re-initialises or loads this cycle's checkpoint
        continue;
      }
      if (cfg_.oracle == "human" && !apply_human_labels(c, labelled)) return false;
      make_dirs(cdir);
      write_indices(cdir + "/labelled.txt", labelled);
      if (cfg_.oracle == "human")
        write_labels_used(cdir + "/labels_used.csv", labelled,
                          read_label_store(label_store_path(dir_)));
      const std::string label = fmt::format("trial {}/{}  {}  cycle {}/{}", t + 1, cfg_.trials,
                                            s.label(), c + 1, cfg_.cycles);
      MetricsRow row = train_and_evaluate(ctx, t, s, c, sdir, labelled, model, label);
      std::string acq_note;
      if (c + 1 < cfg_.cycles)
        acq_note = acquire(ctx, t, c, *strategy, *model, budget, cdir, label, labelled, row);
      kill_point("before-done");
      nlohmann::json done = row_json(row);  // the row, and checksums of what later cycles read
      done["labelled_sha256"] = data::sha256_file(cdir + "/labelled.txt");
      if (c + 1 < cfg_.cycles) done["selected_sha256"] = data::sha256_file(cdir + "/selected.txt");
      write_file_atomic(cdir + "/done.json", done.dump(2) + "\n");
      rows.push_back(row);
      write_metrics(dir_, rows);
      ++cycles_run_;
      progress_.line(fmt::format(
          "{}  labelled {}  {} {:.2f}{}  train {:.1f}s  acquisition {:.1f}s{}", label, row.labelled,
          row.metric, metric_is_fraction(row.metric) ? 100 * row.value : row.value,
          metric_is_fraction(row.metric) ? "%" : "", row.train_seconds, row.acquisition_seconds,
          acq_note.empty() ? "" : "  (" + acq_note + ")"));
    }
    return true;
  }

  // A cycle that finished before (its done.json exists): its metrics row, and the labelled set
  // grown by what it selected. What a later cycle builds on is checked: the cycle's labelled.txt
  // is the set the run has reached, and selected.txt is `budget` new samples of the training
  // split; both still have the checksums done.json recorded (runs from before the checksums
  // skip that part).
  MetricsRow replay_cycle(const std::string& cdir, int c, int64_t budget,
                          std::vector<int64_t>& labelled) {
    if (cfg_.oracle == "human")
      check_labels_used(cdir + "/labels_used.csv", read_label_store(label_store_path(dir_)),
                        label_store_path(dir_));
    const std::string done = cdir + "/done.json";
    const std::string text = read_file(done);
    MetricsRow r;
    const nlohmann::json j = read_done_json(text, done, r);
    auto check_sum = [&](const std::string& file, const char* key) {
      if (!j.contains(key)) return;
      const std::string path = cdir + "/" + file;
      NSAL_CHECK_AS(DataError,
                    j.at(key).is_string() && file_exists(path) &&
                        data::sha256_file(path) == j.at(key).get<std::string>(),
                    "{}: changed or missing since the cycle finished ({} records its sha256); a "
                    "finished cycle's files are what later cycles build on: put it back",
                    path, done);
    };
    check_sum("labelled.txt", "labelled_sha256");
    NSAL_CHECK_AS(DataError, read_indices(cdir + "/labelled.txt") == labelled,
                  "{}/labelled.txt: not the labelled set the run's earlier cycles reach", cdir);
    if (c + 1 < cfg_.cycles) {
      check_sum("selected.txt", "selected_sha256");
      const std::string path = cdir + "/selected.txt";
      const std::vector<int64_t> selected = read_indices(path);
      NSAL_CHECK_AS(DataError, static_cast<int64_t>(selected.size()) == budget,
                    "{}: {} samples, but each cycle selects {}", path, selected.size(), budget);
      for (int64_t i : selected)
        NSAL_CHECK_AS(
            DataError,
            i >= 0 && i < train_.size() && !std::binary_search(labelled.begin(), labelled.end(), i),
            "{}: sample {} is {}", path, i,
            i >= 0 && i < train_.size()
                ? std::string("already labelled")
                : fmt::format("outside the training split (0-{})", train_.size() - 1));
      std::vector<int64_t> sorted = selected;
      std::sort(sorted.begin(), sorted.end());
      const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
      NSAL_CHECK_AS(DataError, twice == sorted.end(), "{}: sample {} is listed twice", path,
                    twice == sorted.end() ? int64_t{0} : *twice);
      labelled = sorted_union(labelled, selected);
    }
    return r;
  }

  // Builds (or keeps) the cycle's model, trains it on `labelled`, saves its checkpoint and
  // evaluates it on the test split: the cycle's metrics row without its acquisition.
  MetricsRow train_and_evaluate(Context& ctx, int t, const StrategyConfig& s, int c,
                                const std::string& sdir, const std::vector<int64_t>& labelled,
                                std::unique_ptr<Model>& model, const std::string& label) {
    MetricsRow row;
    row.trial = t;
    row.strategy = s.label();
    row.cycle = c;
    row.labelled = static_cast<int64_t>(labelled.size());
    row.seed = derive_seed(cfg_.seed, t, c, SeedUse::model_init);
    if (cfg_.reinit_each_cycle || !model) {
      model = make_model(model_spec());
      model->build(ctx.device(), row.seed);
      // A run that keeps its model across cycles continues from the last cycle's checkpoint
      // (after a resume the model is not in memory any more).
      if (!cfg_.reinit_each_cycle && c > 0)
        load_checkpoint(fmt::format("{}/cycle_{}/checkpoint.h5", sdir, c - 1), *model);
      // Training ignores it; evaluation and acquisition passes take it.
      set_fused_inference_by_rule(*model, ctx, cfg_.fused_inference);
    }
    std::vector<EpochStats> ep =
        train_model(*model, ctx, train_, labelled, cfg_.train,
                    derive_seed(cfg_.seed, t, c, SeedUse::training), progress_, label);
    for (const EpochStats& e : ep)
      row.train_seconds += e.seconds;
    CheckpointMeta meta;
    meta.epoch = cfg_.train.epochs;
    meta.seed = cfg_.seed;
    meta.extra = {
        {"trial", std::to_string(t)}, {"strategy", s.label()}, {"cycle", std::to_string(c)}};
    save_checkpoint(fmt::format("{}/cycle_{}/checkpoint.h5", sdir, c), *model, nullptr, meta);
    EvalResult ev = evaluate(*model, ctx, test_, cfg_.eval_batch);
    row.metric = ev.metric;
    row.value = ev.value;
    return row;
  }

  // Chooses `budget` samples among the unlabelled ones (or the configured random subset of
  // them), records every candidate's score and the selection in `cdir`, adds the selection to
  // `labelled` and its time to `row`; returns the strategy's note on where the time went.
  std::string acquire(Context& ctx, int t, int c, Strategy& strategy, Model& model, int64_t budget,
                      const std::string& cdir, const std::string& label,
                      std::vector<int64_t>& labelled, MetricsRow& row) {
    std::vector<int64_t> unlabelled = complement(labelled, train_.size());
    if (cfg_.unlabelled_subset > 0 &&
        cfg_.unlabelled_subset < static_cast<int64_t>(unlabelled.size())) {
      unlabelled = seeded_shuffle(unlabelled, derive_seed(cfg_.seed, t, c, SeedUse::subset));
      unlabelled.resize(static_cast<size_t>(cfg_.unlabelled_subset));
      std::sort(unlabelled.begin(), unlabelled.end());
    }
    progress_.update(
        fmt::format("{}  acquiring {} of {} candidates", label, budget, unlabelled.size()));
    AcquisitionInput in{
        model,      ctx,    train_,           labelled,
        unlabelled, budget, cfg_.score_batch, derive_seed(cfg_.seed, t, c, SeedUse::acquisition)};
    Acquisition a = strategy.acquire(in);
    kill_point("after-scoring");
    row.acquisition_seconds = a.seconds;
    std::string scores = "index,score\n";
    for (size_t i = 0; i < a.scores.size(); ++i)
      scores += fmt::format("{},{:.9g}\n", unlabelled[i], a.scores[i]);
    write_file_atomic(cdir + "/scores.csv", scores);
    write_indices(cdir + "/selected.txt", a.selected);
    labelled = sorted_union(labelled, a.selected);
    return a.timing;
  }

  // The run's model for its dataset: the training split's channels, and its classes or targets.
  ModelSpec model_spec() const { return {cfg_.model, train_.channels(), train_.num_outputs()}; }

  RunConfig cfg_;
  std::string dir_;
  Progress& progress_;
  std::string event_;
  bool prepared_ = false;
  Device device_;
  int64_t initial_ = 0, budget_ = 0;
  std::unique_ptr<FileLock> lock_;
  int cycles_run_ = 0;  // cycles this process ran (not replayed from disk)
  data::Dataset train_, test_;
  std::string waiting_;  // the annotation folder the run stopped at
};

}  // namespace

std::string strategy_dir_name(const std::string& label) {
  std::string out;
  for (char ch : label) {
    if (ch == '(')
      out += '-';
    else if (ch != ')')
      out += ch;
  }
  return out;
}

RunSummary run_active_learning(const RunConfig& cfg, Progress& progress) {
  validate(cfg);
  NSAL_CHECK(!cfg.dataset.empty(), "nsal run: no dataset given (field 'dataset' or --dataset)");
  NSAL_CHECK(!file_exists(cfg.out_dir + "/config.toml"),
             "{}: a run already lives here; continue it with --resume {} or choose another "
             "--out",
             cfg.out_dir, cfg.out_dir);
  Runner runner(cfg, cfg.out_dir, progress, "start");
  runner.prepare();  // a bad dataset, amount, model or option fails before the run exists
  make_dirs(cfg.out_dir);
  // Under the lock, checked again: two starts on one directory cannot both write the config.
  runner.lock();
  NSAL_CHECK(!file_exists(cfg.out_dir + "/config.toml"),
             "{}: a run already lives here; continue it with --resume {} or choose another "
             "--out",
             cfg.out_dir, cfg.out_dir);
  // The fingerprint first (it reads the dataset back and can refuse it), config.toml last: a
  // directory without config.toml is no run yet, and a new start may take it.
  write_run_fingerprint(cfg.out_dir, cfg);
  write_file_atomic(cfg.out_dir + "/config.toml", to_toml(cfg));
  return runner.run();
}

RunSummary resume_active_learning(const std::string& dir, Progress& progress,
                                  const std::string& device, int threads) {
  NSAL_CHECK(file_exists(dir + "/config.toml"),
             "{}: not a run directory (no config.toml; `nsal run CONFIG -o {}` starts one)", dir,
             dir);
  RunConfig cfg = load_saved_run_config(dir + "/config.toml");
  check_run_fingerprint(dir, cfg);
  // Results repeat bit for bit on the backend a run started with (on any thread count), so a
  // resume goes on there unless told otherwise, and says so when told.
  // A run configured with device = "auto" whose start device is not here (a GPU run resumed on
  // a CPU machine) goes on where auto leads, with the warning below.
  const std::optional<std::string> started = run_started_device(dir);
  if (!device.empty()) {
    cfg.device = device;
  } else if (started) {
    const Device d = parse_device(*started);
    const bool here = !d.is_cuda() || d.index < kernels::cuda_device_count();
    if (here || cfg.device != "auto") cfg.device = *started;
  }
  if (threads > 0) cfg.threads = threads;
  if (started) {
    const Device now = parse_device(cfg.device);
    if (now.str() != *started)
      fmt::print(stderr,
                 "warning: {}: the run started on {} and goes on on {}; its remaining cycles can "
                 "differ in the last bits (and so in what they select) from an uninterrupted "
                 "run\n",
                 dir, *started, now.str());
  }
  return Runner(cfg, dir, progress, "resume").run();
}

std::string summary_table(const std::vector<MetricsRow>& rows) {
  std::vector<std::string> strategies;
  std::map<std::pair<int64_t, std::string>, std::pair<double, int>> cell;
  std::set<int64_t> counts;
  std::string metric = rows.empty() ? "" : rows[0].metric;
  for (const MetricsRow& r : rows) {
    if (std::find(strategies.begin(), strategies.end(), r.strategy) == strategies.end())
      strategies.push_back(r.strategy);
    auto& c = cell[{r.labelled, r.strategy}];
    c.first += r.value;
    c.second += 1;
    counts.insert(r.labelled);
  }
  const bool pct = metric_is_fraction(metric);
  std::string out = fmt::format("{:>9}", "labelled");
  for (const auto& s : strategies)
    out += fmt::format("  {:>24}", s);
  out += fmt::format("\n{:>9}", "");
  for (size_t i = 0; i < strategies.size(); ++i)
    out += fmt::format("  {:>24}", "mean " + metric + (pct ? " (%)" : ""));
  out += "\n";
  for (int64_t n : counts) {
    out += fmt::format("{:>9}", n);
    for (const auto& s : strategies) {
      auto it = cell.find({n, s});
      if (it == cell.end())
        out += fmt::format("  {:>24}", "-");
      else
        out +=
            fmt::format("  {:>24.2f}", (pct ? 100.0 : 1.0) * it->second.first / it->second.second);
    }
    out += "\n";
  }
  return out;
}

}  // namespace nsal::al
