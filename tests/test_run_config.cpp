#include <gtest/gtest.h>

#include <fstream>

#include "al/run_config.h"
#include "kernels/error.h"
#include "tests/test_data_util.h"

namespace nsal::al {

TEST(RunConfig, ParsesFieldsAndStrategies) {
  RunConfig c = parse_run_config(R"(
dataset = "fm.h5"
model = "mnist-cnn"
initial = "10%"
query = 50
cycles = 3
trials = 2
[train]
epochs = 4
optimizer = "adam"
lr = 0.001
milestones = [2, 3]
[[strategy]]
name = "random"
[[strategy]]
name = "noise-stability"
[strategy.noise]
preset = "released"
draws = 5
lambda = 0.01
)",
                                 "test.toml");
  EXPECT_EQ(c.dataset, "fm.h5");
  EXPECT_TRUE(c.initial.percent);
  EXPECT_EQ(c.initial.resolve(60000), 6000);
  EXPECT_EQ(c.query.resolve(60000), 50);
  EXPECT_EQ(c.train.optimizer, "adam");
  EXPECT_EQ(c.train.milestones, (std::vector<int>{2, 3}));
  ASSERT_EQ(c.strategies.size(), 2u);
  EXPECT_EQ(c.strategies[1].label(), "noise-stability(released)");
  EXPECT_EQ(c.strategies[1].ns.draws, 5);
  EXPECT_DOUBLE_EQ(c.strategies[1].ns.lambda, 0.01);
}

TEST(RunConfig, ResolvedTomlRoundTrips) {
  RunConfig c;
  c.dataset = "x.h5";
  c.strategies[0].name = "noise-stability";
  c.strategies[0].ns.groups = {"layer1", "linear"};
  c.train.milestones = {5};
  c.fused_inference = false;  // not the default, so that the round trip shows it
  c.strategies[0].ns.fused = false;
  c.cudnn_autotune = true;
  c.initial = {1234567, false};  // amounts with more than six digits come back exactly
  c.query = {12.3456789, true};
  c.train.lr = 0.0123456789;
  RunConfig back = parse_run_config(to_toml(c), "resolved.toml");
  EXPECT_EQ(to_toml(back), to_toml(c));
  EXPECT_EQ(back.initial.value, 1234567.0);
  EXPECT_FALSE(back.initial.percent);
  EXPECT_EQ(back.query.value, 12.3456789);
  EXPECT_TRUE(back.query.percent);
  EXPECT_EQ(back.train.lr, c.train.lr);
  EXPECT_EQ(back.strategies[0].ns.groups, c.strategies[0].ns.groups);
  EXPECT_FALSE(back.fused_inference);
  EXPECT_FALSE(back.strategies[0].ns.fused);
  EXPECT_TRUE(back.cudnn_autotune);
}

// A run saved before `fused_inference` existed resumes on the layer path it began with; a new
// config (or a saved one that names the field) keeps what it says.
TEST(RunConfig, SavedConfigsWithoutANewFieldKeepTheirBehaviour) {
  testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  const std::string old_run = write("old.toml", "dataset = \"x.h5\"\n");
  EXPECT_TRUE(load_run_config(old_run).fused_inference) << "the default for new runs";
  EXPECT_FALSE(load_saved_run_config(old_run).fused_inference);
  const std::string new_run = write("new.toml", "dataset = \"x.h5\"\nfused_inference = true\n");
  EXPECT_TRUE(load_saved_run_config(new_run).fused_inference);
  // Older nsal took a negative seed modulo 2^64 and saved it as given: its runs still resume
  // (a new configuration is refused it: BadInputNamesTheFileAndField).
  const std::string negative = write("negative.toml", "dataset = \"x.h5\"\nseed = -1\n");
  EXPECT_EQ(load_saved_run_config(negative).seed, ~uint64_t{0});
}

static std::string error_of(const std::string& text) {
  try {
    parse_run_config(text, "bad.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RunConfig, BadInputNamesTheFileAndField) {
  EXPECT_NE(error_of("cycles = \"three\"").find("bad.toml: field 'cycles': expected an integer"),
            std::string::npos);
  EXPECT_NE(error_of("[train]\nepoch = 3").find("unknown field 'train.epoch'"), std::string::npos);
  EXPECT_NE(error_of("initial = \"120%\"").find("initial"), std::string::npos);
  EXPECT_NE(error_of("[[strategy]]\nname = \"bogus\"").find("unknown strategy 'bogus'"),
            std::string::npos);
  EXPECT_NE(error_of("cycles = ").find("bad.toml:1"), std::string::npos);
  EXPECT_NE(error_of("[[strategy]]\nname = \"random\"\n[[strategy]]\nname = \"random\"")
                .find("listed twice"),
            std::string::npos);
  EXPECT_NE(error_of("math = \"fp16\"").find("field 'math': expected fp32, tf32 or bf16"),
            std::string::npos);
  // Every numeric field is checked where it is read, naming the file and the field.
  const std::pair<const char*, const char*> bad[] = {
      {"initial = 0", "bad.toml: field 'initial': '0' is not a positive count"},
      {"initial = \"inf\"", "bad.toml: field 'initial': 'inf' is not a positive count"},
      {"query = \"1e30\"", "bad.toml: field 'query': '1e30' is not a positive count"},
      {"query = 9223372036854775807", "field 'query': '9223372036854775807' is not a positive"},
      {"seed = -1", "bad.toml: field 'seed': expected an integer >= 0, got -1"},
      {"threads = -4", "bad.toml: field 'threads': expected 0"},
      {"cycles = 5000000000", "bad.toml: field 'cycles': expected an integer from"},
      {"eval_batch = 0", "bad.toml: field 'eval_batch': expected at least 1"},
      {"score_batch = 0", "bad.toml: field 'score_batch': expected at least 1"},
      {"[train]\nmomentum = -3.0", "bad.toml: field 'train.momentum': expected a finite number"},
      {"[train]\nweight_decay = -1.0", "bad.toml: field 'train.weight_decay'"},
      {"[train]\ngamma = -1.0", "bad.toml: field 'train.gamma': expected a finite number > 0"},
      {"[train]\nmilestones = [-5]", "bad.toml: field 'train.milestones': expected epochs >= 1"},
      {"[train]\nmilestones = [5000000000]", "field 'train.milestones': expected an array"},
      {"[train]\ncrop_padding = -2", "bad.toml: field 'train.crop_padding': expected 0 to"},
      {"[train]\nclip_grad_norm = -1.0", "bad.toml: field 'train.clip_grad_norm'"},
      {"[train]\nclip_grad_norm = nan", "bad.toml: field 'train.clip_grad_norm'"},
      {"[train]\noptimizer = \"adam\"\nnesterov = true",
       "bad.toml: field 'train.nesterov': Nesterov momentum is an SGD option"},
      {"[train]\nmomentum = 0.0\nnesterov = true", "field 'train.nesterov': needs"},
  };
  for (const auto& [text, expected] : bad)
    EXPECT_NE(error_of(text).find(expected), std::string::npos) << text << ": " << error_of(text);
}

// Valid settings that do nothing in their configuration are named, so that a run does not
// silently ignore what its author meant; the defaults and the shipped configs name none.
TEST(RunConfig, UnusedSettingsAreNamed) {
  auto unused = [](const std::string& train_table) {
    std::string all;
    for (const std::string& w :
         unused_settings(parse_run_config("[train]\n" + train_table, "t.toml")))
      all += w + "\n";
    return all;
  };
  EXPECT_EQ(unused(""), "");
  EXPECT_EQ(unused("schedule = \"multistep\"\nmilestones = [5]\ngamma = 0.5"), "");
  EXPECT_NE(unused("optimizer = \"adam\"\nmomentum = 0.5")
                .find("'train.momentum': 0.5 has no "
                      "effect with optimizer 'adam'"),
            std::string::npos);
  EXPECT_NE(unused("milestones = [3]").find("'train.milestones': only the multistep schedule"),
            std::string::npos);
  EXPECT_NE(unused("schedule = \"cosine\"\ngamma = 0.5").find("'train.gamma'"), std::string::npos);
  EXPECT_NE(unused("schedule = \"multistep\"").find("none given"), std::string::npos);
  EXPECT_NE(unused("crop_padding = 2").find("used only with augment = true"), std::string::npos);
}

TEST(RunConfig, MathModesByName) {
  for (MathMode m : {MathMode::strict_fp32, MathMode::tf32, MathMode::bf16}) {
    MathMode back = MathMode::strict_fp32;
    ASSERT_TRUE(parse_math_mode(math_mode_name(m), back));
    EXPECT_EQ(back, m);
    RunConfig c;
    c.math = math_mode_name(m);
    EXPECT_EQ(parse_run_config(to_toml(c), "t").math, c.math);
  }
  MathMode m = MathMode::tf32;
  EXPECT_FALSE(parse_math_mode("strict", m));
  EXPECT_EQ(m, MathMode::tf32);
}

}  // namespace nsal::al
