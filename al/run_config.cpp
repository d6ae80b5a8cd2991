#include "al/run_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "kernels/error.h"
#include "nn/models/registry.h"

namespace nsal::al {

int64_t Amount::resolve(int64_t total) const {
  if (!percent) return static_cast<int64_t>(value);
  return static_cast<int64_t>(std::llround(value / 100.0 * static_cast<double>(total)));
}

std::string Amount::str() const {
  const std::string v = fmt::format("{}", value);  // the shortest text that reads back exactly
  return percent ? v + "%" : v;
}

Amount Amount::parse(const std::string& text, const std::string& field) {
  Amount a;
  std::string t = text;
  if (!t.empty() && t.back() == '%') {
    a.percent = true;
    t.pop_back();
  }
  try {
    size_t used = 0;
    a.value = std::stod(t, &used);
    if (used != t.size()) throw std::invalid_argument(t);
  } catch (const std::exception&) {
    throw Error(fmt::format("field '{}': expected a count (50) or a percentage (10%), got '{}'",
                            field, text));
  }
  // Counts up to 2^53: every one exact in a double, and far beyond any dataset.
  NSAL_CHECK(std::isfinite(a.value) && a.value > 0 && (!a.percent || a.value <= 100) &&
                 (a.percent || (a.value == std::floor(a.value) && a.value <= 0x1p53)),
             "field '{}': '{}' is not a positive count or a percentage in (0, 100]", field, text);
  return a;
}

std::string StrategyConfig::label() const {
  return name == "noise-stability" ? "noise-stability(" + ns.preset + ")" : name;
}

namespace {

template <typename T>
bool fits(int64_t v) {
  if constexpr (std::is_same_v<T, bool>) {
    return true;
  } else if constexpr (std::is_signed_v<T>) {
    return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
  } else {
    return v >= 0 && static_cast<uint64_t>(v) <= std::numeric_limits<T>::max();
  }
}

// Reads typed fields from one TOML table and reports unknown keys, naming the source and path.
class Reader {
 public:
  Reader(const toml::table& t, std::string source, std::string prefix)
      : t_(t), source_(std::move(source)), prefix_(std::move(prefix)) {}

  template <typename T>
  void get(const char* key, T& out) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (!n) return;
    if constexpr (std::is_same_v<T, bool>) {
      auto v = n->value<bool>();
      if (!v) fail(key, "a boolean");
      out = *v;
    } else if constexpr (std::is_integral_v<T>) {
      auto v = n->value<int64_t>();
      if (!v || !n->is_integer()) fail(key, "an integer");
      if (!fits<T>(*v))
        fail(key, fmt::format("an integer from {} to {}, got {}", std::numeric_limits<T>::min(),
                              std::numeric_limits<T>::max(), *v));
      out = static_cast<T>(*v);
    } else if constexpr (std::is_floating_point_v<T>) {
      auto v = n->value<double>();
      if (!v) fail(key, "a number");
      out = *v;
    } else if constexpr (std::is_same_v<T, std::string>) {
      auto v = n->value<std::string>();
      if (!v) fail(key, "a string");
      out = *v;
    } else if constexpr (std::is_same_v<T, Amount>) {
      if (!n->is_string() && !n->is_integer())
        fail(key, "a count (50) or a percentage string (\"10%\")");
      try {
        out = Amount::parse(
            n->is_string() ? *n->value<std::string>() : std::to_string(*n->value<int64_t>()),
            path(key));
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", source_, e.what()));
      }
    } else if constexpr (std::is_same_v<T, std::vector<int>>) {
      const toml::array* a = n->as_array();
      if (!a) fail(key, "an array of integers");
      out.clear();
      for (const auto& e : *a) {
        if (!e.is_integer() || !fits<int>(*e.value<int64_t>()))
          fail(key, "an array of integers (32-bit)");
        out.push_back(static_cast<int>(*e.value<int64_t>()));
      }
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      const toml::array* a = n->as_array();
      if (!a) fail(key, "an array of strings");
      out.clear();
      for (const auto& e : *a) {
        if (!e.is_string()) fail(key, "an array of strings");
        out.push_back(*e.value<std::string>());
      }
    }
  }

  const toml::table* table(const char* key) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(key, "a table");
    return n->as_table();
  }

  const toml::array* array_of_tables(const char* key) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (!n) return nullptr;
    if (!n->is_array_of_tables()) fail(key, "an array of tables ([[" + path(key) + "]])");
    return n->as_array();
  }

  void reject_unknown() const {
    for (const auto& [k, v] : t_) {
      std::string key(k.str());
      if (!seen_.count(key))
        throw Error(fmt::format("{}: unknown field '{}'", source_, path(key.c_str())));
    }
  }

  std::string path(const std::string& key) const {
    return prefix_.empty() ? key : prefix_ + "." + key;
  }

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    throw Error(fmt::format("{}: field '{}': expected {}", source_, path(key), expected));
  }
  const toml::table& t_;
  std::string source_, prefix_;
  std::set<std::string> seen_;
};

void read_strategy(const toml::table& t, const std::string& source, const std::string& prefix,
                   StrategyConfig& s) {
  Reader r(t, source, prefix);
  r.get("name", s.name);
  r.get("mc_passes", s.mc_passes);
  r.get("mc_score", s.mc_score);
  if (const toml::table* ns = r.table("noise")) {
    Reader n(*ns, source, prefix + ".noise");
    n.get("preset", s.ns.preset);
    n.get("draws", s.ns.draws);
    n.get("lambda", s.ns.lambda);
    n.get("distribution", s.ns.distribution);
    n.get("magnitude", s.ns.magnitude);
    n.get("groups", s.ns.groups);
    n.get("output", s.ns.output);
    n.get("fused", s.ns.fused);
    n.reject_unknown();
  }
  r.reject_unknown();
}

bool one_of(const std::string& v, std::initializer_list<const char*> options) {
  for (const char* o : options)
    if (v == o) return true;
  return false;
}

}  // namespace

namespace {

// `saved`: a run directory's config.toml, read as the run that wrote it did (seeds below 0,
// once taken modulo 2^64, still are).
RunConfig parse_config_text(const std::string& text, const std::string& source, bool saved) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw Error(fmt::format("{}:{}:{}: invalid TOML: {}", source, b.line, b.column,
                            std::string(e.description())));
  }
  RunConfig c;
  Reader r(root, source, "");
  r.get("dataset", c.dataset);
  r.get("model", c.model);
  r.get("device", c.device);
  r.get("threads", c.threads);
  r.get("math", c.math);
  r.get("cudnn_autotune", c.cudnn_autotune);
  int64_t seed = 0;
  r.get("seed", seed);
  if (seed < 0 && !saved)
    throw Error(fmt::format("{}: field 'seed': expected an integer >= 0, got {}", source, seed));
  c.seed = static_cast<uint64_t>(seed);
  r.get("initial", c.initial);
  r.get("query", c.query);
  r.get("cycles", c.cycles);
  r.get("trials", c.trials);
  r.get("unlabelled_subset", c.unlabelled_subset);
  r.get("reinit_each_cycle", c.reinit_each_cycle);
  r.get("oracle", c.oracle);
  r.get("eval_batch", c.eval_batch);
  r.get("score_batch", c.score_batch);
  r.get("fused_inference", c.fused_inference);
  r.get("out_dir", c.out_dir);
  if (const toml::table* t = r.table("train")) {
    Reader tr(*t, source, "train");
    tr.get("epochs", c.train.epochs);
    tr.get("batch_size", c.train.batch_size);
    tr.get("optimizer", c.train.optimizer);
    tr.get("lr", c.train.lr);
    tr.get("momentum", c.train.momentum);
    tr.get("weight_decay", c.train.weight_decay);
    tr.get("nesterov", c.train.nesterov);
    tr.get("schedule", c.train.schedule);
    tr.get("milestones", c.train.milestones);
    tr.get("gamma", c.train.gamma);
    tr.get("augment", c.train.augment);
    tr.get("crop_padding", c.train.crop_padding);
    tr.get("class_balanced", c.train.class_balanced);
    tr.get("clip_grad_norm", c.train.clip_grad_norm);
    tr.reject_unknown();
  }
  if (const toml::array* a = r.array_of_tables("strategy")) {
    c.strategies.clear();
    int i = 0;
    for (const auto& node : *a) {
      StrategyConfig s;
      read_strategy(*node.as_table(), source, fmt::format("strategy[{}]", i++), s);
      c.strategies.push_back(s);
    }
  }
  r.reject_unknown();
  try {
    validate(c);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", source, e.what()));
  }
  return c;
}

}  // namespace

RunConfig parse_run_config(const std::string& text, const std::string& source) {
  return parse_config_text(text, source, false);
}

bool parse_math_mode(const std::string& name, MathMode& out) {
  for (MathMode m : {MathMode::strict_fp32, MathMode::tf32, MathMode::bf16})
    if (name == math_mode_name(m)) {
      out = m;
      return true;
    }
  return false;
}

namespace {
std::string read_config_text(const std::string& path) {
  std::ifstream f(path);
  NSAL_CHECK(f.good(), "{}: cannot open the config file", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

RunConfig load_run_config(const std::string& path) {
  return parse_run_config(read_config_text(path), path);
}

RunConfig load_saved_run_config(const std::string& path) {
  const std::string text = read_config_text(path);
  RunConfig c = parse_config_text(text, path, /*saved=*/true);
  // Saved before the field existed: that run evaluated on the layer path, and goes on so.
  if (!toml::parse(text).contains("fused_inference")) c.fused_inference = false;
  return c;
}

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names = {
      "random",          "entropy",    "margin", "least-confidence",
      "noise-stability", "mc-dropout", "bald",   "coreset"};
  return names;
}

void validate_strategy(const StrategyConfig& s, const std::string& f) {
  const std::vector<std::string>& names = strategy_names();
  NSAL_CHECK(std::find(names.begin(), names.end(), s.name) != names.end(),
             "field '{}.name': unknown strategy '{}' (expected one of: {})", f, s.name,
             fmt::format("{}", fmt::join(names, ", ")));
  NSAL_CHECK(one_of(s.ns.preset, {"paper", "released"}),
             "field '{}.noise.preset': expected paper or released, got '{}'", f, s.ns.preset);
  NSAL_CHECK(s.ns.draws >= 1, "field '{}.noise.draws': expected at least 1", f);
  NSAL_CHECK(std::isfinite(s.ns.lambda) && s.ns.lambda > 0,
             "field '{}.noise.lambda': expected a finite number > 0, got {}", f, s.ns.lambda);
  NSAL_CHECK(one_of(s.ns.distribution, {"gaussian", "uniform", "laplace"}),
             "field '{}.noise.distribution': expected gaussian, uniform or laplace, got '{}'", f,
             s.ns.distribution);
  NSAL_CHECK(one_of(s.ns.magnitude, {"adaptive", "constant"}),
             "field '{}.noise.magnitude': expected adaptive or constant, got '{}'", f,
             s.ns.magnitude);
  NSAL_CHECK(one_of(s.ns.output, {"auto", "probs", "logits", "features"}),
             "field '{}.noise.output': expected auto, probs, logits or features, got '{}'", f,
             s.ns.output);
  NSAL_CHECK(s.mc_passes >= 1 && s.mc_passes <= (1 << 20),
             "field '{}.mc_passes': expected 1 to 1048576, got {}", f, s.mc_passes);
  NSAL_CHECK(one_of(s.mc_score, {"auto", "entropy", "variation-ratio", "variance"}),
             "field '{}.mc_score': expected auto, entropy, variation-ratio or variance, got '{}'",
             f, s.mc_score);
}

std::vector<std::string> unused_settings(const RunConfig& c) {
  const TrainConfig& t = c.train;
  const TrainConfig defaults;
  std::vector<std::string> out;
  if (t.optimizer != "sgd" && t.momentum != defaults.momentum)
    out.push_back(
        fmt::format("field 'train.momentum': {} has no effect with optimizer '{}' (its "
                    "betas are 0.9 and 0.999)",
                    t.momentum, t.optimizer));
  if (t.schedule != "multistep" && !t.milestones.empty())
    out.push_back(fmt::format(
        "field 'train.milestones': only the multistep schedule uses them (schedule is '{}')",
        t.schedule));
  if (t.schedule != "multistep" && t.gamma != defaults.gamma)
    out.push_back(fmt::format(
        "field 'train.gamma': only the multistep schedule uses it (schedule is '{}')", t.schedule));
  if (t.schedule == "multistep" && t.milestones.empty())
    out.push_back(
        "field 'train.milestones': none given, so the multistep schedule keeps the rate constant");
  if (!t.augment && t.crop_padding != defaults.crop_padding)
    out.push_back("field 'train.crop_padding': used only with augment = true");
  return out;
}

void validate_train(const TrainConfig& t) {
  NSAL_CHECK(one_of(t.optimizer, {"sgd", "adam", "adamw"}),
             "field 'train.optimizer': expected sgd, adam or adamw, got '{}'", t.optimizer);
  NSAL_CHECK(one_of(t.schedule, {"constant", "multistep", "cosine"}),
             "field 'train.schedule': expected constant, multistep or cosine, got '{}'",
             t.schedule);
  NSAL_CHECK(std::isfinite(t.lr) && t.lr > 0,
             "field 'train.lr': expected a finite number > 0, got {}", t.lr);
  NSAL_CHECK(std::isfinite(t.momentum) && t.momentum >= 0,
             "field 'train.momentum': expected a finite number >= 0, got {}", t.momentum);
  NSAL_CHECK(std::isfinite(t.weight_decay) && t.weight_decay >= 0,
             "field 'train.weight_decay': expected a finite number >= 0, got {}", t.weight_decay);
  if (t.nesterov) {
    NSAL_CHECK(t.optimizer == "sgd",
               "field 'train.nesterov': Nesterov momentum is an SGD option (optimizer is '{}')",
               t.optimizer);
    NSAL_CHECK(t.momentum > 0, "field 'train.nesterov': needs train.momentum > 0");
  }
  NSAL_CHECK(std::isfinite(t.gamma) && t.gamma > 0,
             "field 'train.gamma': expected a finite number > 0, got {}", t.gamma);
  for (int m : t.milestones)
    NSAL_CHECK(m >= 1, "field 'train.milestones': expected epochs >= 1, got {}", m);
  NSAL_CHECK(t.crop_padding >= 0 && t.crop_padding <= 4096,
             "field 'train.crop_padding': expected 0 to 4096 pixels, got {}", t.crop_padding);
  NSAL_CHECK(std::isfinite(t.clip_grad_norm) && t.clip_grad_norm >= 0,
             "field 'train.clip_grad_norm': expected a finite number >= 0 (0: off), got {}",
             t.clip_grad_norm);
}

void validate(const RunConfig& c) {
  NSAL_CHECK(c.cycles >= 1, "field 'cycles': expected at least 1, got {}", c.cycles);
  NSAL_CHECK(c.trials >= 1, "field 'trials': expected at least 1, got {}", c.trials);
  NSAL_CHECK(c.train.epochs >= 1, "field 'train.epochs': expected at least 1");
  NSAL_CHECK(c.train.batch_size >= 1, "field 'train.batch_size': expected at least 1");
  NSAL_CHECK(c.eval_batch >= 1, "field 'eval_batch': expected at least 1, got {}", c.eval_batch);
  NSAL_CHECK(c.score_batch >= 1, "field 'score_batch': expected at least 1, got {}", c.score_batch);
  NSAL_CHECK(c.unlabelled_subset >= 0, "field 'unlabelled_subset': expected >= 0");
  NSAL_CHECK(c.threads >= 0, "field 'threads': expected 0 (OpenMP's default) or more, got {}",
             c.threads);
  validate_train(c.train);
  const std::vector<std::string> models = model_names();
  NSAL_CHECK(std::find(models.begin(), models.end(), c.model) != models.end(),
             "field 'model': unknown architecture '{}' (expected one of: {})", c.model,
             fmt::format("{}", fmt::join(models, ", ")));
  NSAL_CHECK(!c.strategies.empty(), "at least one [[strategy]] is needed");
  NSAL_CHECK(one_of(c.math, {"fp32", "tf32", "bf16"}),
             "field 'math': expected fp32, tf32 or bf16, got '{}'", c.math);
  NSAL_CHECK(one_of(c.oracle, {"dataset", "human"}),
             "field 'oracle': expected dataset or human, got '{}'", c.oracle);
  if (c.oracle == "human") {
    NSAL_CHECK(c.trials == 1, "field 'trials': a run with oracle = \"human\" has one trial, got {}",
               c.trials);
    NSAL_CHECK(c.strategies.size() == 1,
               "field 'strategy': a run with oracle = \"human\" has one strategy, got {}",
               c.strategies.size());
  }
  std::set<std::string> labels;
  for (size_t i = 0; i < c.strategies.size(); ++i) {
    const StrategyConfig& s = c.strategies[i];
    std::string f = fmt::format("strategy[{}]", i);
    NSAL_CHECK(labels.insert(s.label()).second, "field '{}': strategy '{}' is listed twice", f,
               s.label());
    validate_strategy(s, f);
  }
}

std::string to_toml(const RunConfig& c) {
  toml::table root{{"dataset", c.dataset},
                   {"model", c.model},
                   {"device", c.device},
                   {"threads", c.threads},
                   {"math", c.math},
                   {"cudnn_autotune", c.cudnn_autotune},
                   {"seed", static_cast<int64_t>(c.seed)},
                   {"initial", c.initial.str()},
                   {"query", c.query.str()},
                   {"cycles", c.cycles},
                   {"trials", c.trials},
                   {"unlabelled_subset", c.unlabelled_subset},
                   {"reinit_each_cycle", c.reinit_each_cycle},
                   {"oracle", c.oracle},
                   {"eval_batch", c.eval_batch},
                   {"score_batch", c.score_batch},
                   {"fused_inference", c.fused_inference},
                   {"out_dir", c.out_dir}};
  toml::array milestones;
  for (int m : c.train.milestones)
    milestones.push_back(m);
  root.insert("train", toml::table{{"epochs", c.train.epochs},
                                   {"batch_size", c.train.batch_size},
                                   {"optimizer", c.train.optimizer},
                                   {"lr", c.train.lr},
                                   {"momentum", c.train.momentum},
                                   {"weight_decay", c.train.weight_decay},
                                   {"nesterov", c.train.nesterov},
                                   {"schedule", c.train.schedule},
                                   {"milestones", milestones},
                                   {"gamma", c.train.gamma},
                                   {"augment", c.train.augment},
                                   {"crop_padding", c.train.crop_padding},
                                   {"class_balanced", c.train.class_balanced},
                                   {"clip_grad_norm", c.train.clip_grad_norm}});
  toml::array strategies;
  for (const StrategyConfig& s : c.strategies) {
    toml::array groups;
    for (const auto& g : s.ns.groups)
      groups.push_back(g);
    strategies.push_back(toml::table{{"name", s.name},
                                     {"mc_passes", s.mc_passes},
                                     {"mc_score", s.mc_score},
                                     {"noise", toml::table{{"preset", s.ns.preset},
                                                           {"draws", s.ns.draws},
                                                           {"lambda", s.ns.lambda},
                                                           {"distribution", s.ns.distribution},
                                                           {"magnitude", s.ns.magnitude},
                                                           {"groups", groups},
                                                           {"output", s.ns.output},
                                                           {"fused", s.ns.fused}}}});
  }
  root.insert("strategy", strategies);
  std::ostringstream os;
  os << root << "\n";
  return os.str();
}

}  // namespace nsal::al
