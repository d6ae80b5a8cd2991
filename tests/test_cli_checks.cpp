// The command line against a demanding user: a regression dataset through train, eval and score;
// a checkpoint run on a dataset of other classes; flags out of range; outputs that exist; a
// conversion that fails; devices that do not exist. Each refusal exits non-zero, names what was
// wrong and writes nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "al/atomic_file.h"
#include "al/run_config.h"
#include "data/dataset.h"
#include "nn/hdf5.h"
#include "tests/run_test_util.h"

namespace fs = std::filesystem;

namespace nsal::al {
namespace {

using nsal::testing::kNsal;
using nsal::testing::run_shell;

class CliChecks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nsal_cli_checks_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    ASSERT_EQ(quiet(kNsal + " data synth images -o " + path("d3.h5") +
                    " --train 60 --test 20 --size 28 --classes 3 --noise 0.3"),
              0);
    ASSERT_EQ(quiet(kNsal + " data synth images -o " + path("d4.h5") +
                    " --train 60 --test 20 --size 28 --classes 4 --noise 0.3"),
              0);
    ASSERT_EQ(quiet(kNsal + " train -q --dataset " + path("d3.h5") +
                    " --model mnist-cnn --device cpu --epochs 1 -o " + path("cnn")),
              0);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  static std::string path(const std::string& name) { return (root_ / name).string(); }
  static int quiet(const std::string& cmd) { return run_shell(cmd + " > /dev/null 2>&1"); }
  // Runs `args` (after the binary), which must fail; returns its stderr.
  static std::string refusal(const std::string& args) {
    int rc = run_shell(kNsal + " " + args + " > /dev/null 2> " + path("err.txt"));
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) != 0) << args << ": status " << rc;
    std::string err = read_file(path("err.txt"));
    EXPECT_NE(err.find("nsal: error: "), std::string::npos) << args << ": " << err;
    return err;
  }
  // A tiny IDX set (4 training and 4 test images of 3 x 3 pixels, labels 0..2) in `dir`.
  static void write_idx_set(const std::string& dir) {
    fs::create_directories(dir);
    auto be32 = [](std::ofstream& f, uint32_t v) {
      const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
      f.write(b, 4);
    };
    for (const char* prefix : {"train", "t10k"}) {
      std::ofstream img(dir + "/" + prefix + "-images-idx3-ubyte", std::ios::binary);
      be32(img, 0x00000803);
      for (uint32_t d : {4u, 3u, 3u})
        be32(img, d);
      for (int i = 0; i < 4 * 9; ++i)
        img.put(static_cast<char>(i * 7));
      std::ofstream lab(dir + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary);
      be32(lab, 0x00000801);
      be32(lab, 4);
      for (int i = 0; i < 4; ++i)
        lab.put(static_cast<char>(i % 3));
    }
  }
  static fs::path root_;
};
fs::path CliChecks::root_;

}  // namespace

// Tables normalise per feature (the loader used to divide by zero on every regression set).
TEST_F(CliChecks, ARegressionDatasetTrainsEvaluatesAndScores) {
  ASSERT_EQ(quiet(kNsal + " data synth regression -o " + path("reg.h5") + " --train 200 --test 50"),
            0);
  ASSERT_EQ(quiet(kNsal + " train -q --dataset " + path("reg.h5") +
                  " --model mlp --device cpu --epochs 2 -o " + path("mlp")),
            0);
  ASSERT_EQ(run_shell(kNsal + " eval " + path("mlp/checkpoint.h5") + " --dataset " +
                      path("reg.h5") + " --device cpu > " + path("eval.txt") + " 2>&1"),
            0);
  EXPECT_NE(read_file(path("eval.txt")).find("MAE"), std::string::npos)
      << read_file(path("eval.txt"));
  ASSERT_EQ(quiet(kNsal + " score " + path("mlp/checkpoint.h5") + " --dataset " + path("reg.h5") +
                  " --device cpu -k 2 -o " + path("reg_scores")),
            0);
  EXPECT_TRUE(file_exists(path("reg_scores.csv")));
}

TEST_F(CliChecks, ACheckpointOfOtherClassesIsRefused) {
  const std::string ck = path("cnn/checkpoint.h5");
  for (const std::string& cmd :
       {"eval " + ck + " --dataset " + path("d4.h5"),
        "predict " + ck + " --dataset " + path("d4.h5") + " -o " + path("p.h5"),
        "score " + ck + " --dataset " + path("d4.h5") + " -o " + path("s"),
        "query " + ck + " --dataset " + path("d4.h5") + " -n 2 -o " + path("q.txt")}) {
    const std::string err = refusal(cmd + " --device cpu");
    EXPECT_NE(err.find("predicts 3 classes"), std::string::npos) << cmd << ": " << err;
    EXPECT_NE(err.find("has 4"), std::string::npos) << cmd << ": " << err;
  }
  EXPECT_FALSE(file_exists(path("p.h5")));
  EXPECT_FALSE(file_exists(path("q.txt")));
}

TEST_F(CliChecks, FlagsOutOfRangeAreRefusedNamingTheFlag) {
  const std::string run = "run " + std::string(NSAL_SOURCE_DIR) +
                          "/configs/quick-fashion-mnist.toml -o " + path("never");
  const std::string score =
      "score " + path("cnn/checkpoint.h5") + " --dataset " + path("d3.h5") + " -o " + path("s");
  struct Bad {
    std::string args, says;
  };
  const Bad cases[] = {
      {run + " --epochs 0", "--epochs: expected an integer >= 1, got '0'"},
      {run + " --cycles -1", "--cycles"},
      {run + " --draws 0", "--draws"},
      {run + " --trials -2", "--trials"},
      {run + " --subset -1", "--subset: expected an integer >= 0"},
      {run + " --seed -1", "--seed"},
      {run + " --threads 0", "--threads"},
      {"run --resume " + path("cnn") + " --epochs 1", "--resume excludes --epochs"},
      {score + " --lambda 0", "--lambda: expected a finite number > 0, got '0'"},
      {score + " --lambda inf", "--lambda"},
      {score + " -k 0", "--draws: expected an integer >= 1"},
      {score + " --subset -10", "--subset"},
      {score + " --batch-size 0", "--batch-size"},
      {score + " --device cuda:-1", "got 'cuda:-1'"},
      {score + " --device cuda:1x", "got 'cuda:1x'"},
      {score + " --device cuda:", "got 'cuda:'"},
      {"train --dataset " + path("d3.h5") + " -o " + path("never") + " --lr -1", "--lr"},
  };
  for (const Bad& b : cases) {
    const std::string err = refusal(b.args);
    EXPECT_NE(err.find(b.says), std::string::npos) << b.args << ": " << err;
  }
  EXPECT_FALSE(fs::exists(path("never")));
  EXPECT_FALSE(file_exists(path("s.h5")));
}

TEST_F(CliChecks, QueryOverwritesNothingUnasked) {
  const std::string q =
      "query " + path("cnn/checkpoint.h5") + " --dataset " + path("d3.h5") + " --device cpu ";
  ASSERT_EQ(quiet(kNsal + " " + q + "--strategy entropy -n 4 -o " + path("chosen.txt") +
                  " --export " + path("ann")),
            0);
  const std::string first = read_file(path("chosen.txt"));
  EXPECT_NE(refusal(q + "-n 2 -o " + path("chosen.txt")).find("pass --force"), std::string::npos);
  EXPECT_NE(
      refusal(q + "-n 2 -o " + path("other.txt") + " --export " + path("ann")).find("is not empty"),
      std::string::npos);
  EXPECT_EQ(read_file(path("chosen.txt")), first);
  EXPECT_FALSE(file_exists(path("other.txt")));
  // --force replaces the folder: the two new samples and nothing of the four before.
  ASSERT_EQ(quiet(kNsal + " " + q + "--strategy margin -n 2 -o " + path("chosen.txt") +
                  " --export " + path("ann") + " --force"),
            0);
  int pngs = 0;
  for (const auto& e : fs::directory_iterator(path("ann")))
    pngs += e.path().extension() == ".png";
  EXPECT_EQ(pngs, 2);
  // --force replaces only what the export wrote: the chosen indices written into the folder stay,
  // and a folder that is not an export is never emptied.
  ASSERT_EQ(quiet(kNsal + " " + q + "--strategy entropy -n 3 -o " + path("ann/mine.txt") +
                  " --export " + path("ann") + " --force"),
            0);
  EXPECT_EQ(read_indices(path("ann/mine.txt")).size(), 3u);
  fs::create_directories(path("keep"));
  std::ofstream(path("keep/precious.txt")) << "data\n";
  EXPECT_NE(refusal(q + "-n 2 -o " + path("k.txt") + " --export " + path("keep") + " --force")
                .find("not an export folder"),
            std::string::npos);
  EXPECT_TRUE(file_exists(path("keep/precious.txt")));
}

TEST_F(CliChecks, AFailedConversionLeavesNoFile) {
  write_idx_set(path("idx"));
  ASSERT_EQ(quiet(kNsal + " data convert " + path("idx") + " --format idx -o " + path("ok.h5")), 0)
      << "the IDX set itself converts";
  // Normalisation statistics that readers would refuse: nothing may be written.
  for (const char* stats : {"--mean 0.5 --std 0", "--mean 0.5 --std -1", "--mean nan --std 1",
                            "--mean 0.5,0.5 --std 1,1"}) {
    const std::string out = path("bad.h5");
    const std::string err =
        refusal("data convert " + path("idx") + " --format idx " + stats + " -o " + out);
    EXPECT_NE(err.find("std"), std::string::npos) << stats << ": " << err;
    EXPECT_FALSE(file_exists(out)) << stats;
  }
}

// A run that cannot go fails before its directory exists, so that the fixed command can be run
// as it was; a config's own errors name the file and list what it may say.
TEST_F(CliChecks, ARunThatCannotGoLeavesNoDirectoryAndConfigErrorsNameTheFile) {
  auto config = [&](const std::string& name, const std::string& extra) {
    const std::string p = path(name + ".toml");
    std::ofstream(p) << "dataset = \"" << path("d3.h5") << "\"\n"
                     << extra << "\ninitial = 10\nquery = 10\ncycles = 2\n"
                     << "[train]\nepochs = 1\n[[strategy]]\nname = \"noise-stability\"\n"
                     << "[strategy.noise]\ndraws = 2\n";
    return p;
  };
  struct Bad {
    std::string config, says;
  };
  const Bad cases[] = {
      {config("model", "model = \"resnet19\""), "unknown architecture 'resnet19'"},
      {config("lambda", "model = \"mnist-cnn\"") + "", ""},
  };
  std::ofstream(path("lambda.toml"), std::ios::app) << "lambda = inf\n";  // in [strategy.noise]
  for (Bad b : cases) {
    if (b.says.empty()) b.says = "field 'strategy[0].noise.lambda': expected a finite number > 0";
    const std::string err = refusal("run " + b.config + " -o " + path("never_run"));
    EXPECT_NE(err.find(b.says), std::string::npos) << b.config << ": " << err;
    EXPECT_NE(err.find(b.config), std::string::npos) << "the file is not named: " << err;
  }
  // Checked against the dataset and the model before the directory is made.
  const std::string ok = config("ok", "model = \"mnist-cnn\"");
  EXPECT_NE(refusal("run " + ok + " -o " + path("never_run") + " --initial 0.01%")
                .find("field 'initial': 0.01% of the 60 training samples is none"),
            std::string::npos);
  EXPECT_NE(refusal("run " + ok + " -o " + path("never_run") + " --query 100")
                .find("do not fit the 60 training samples"),
            std::string::npos);
  EXPECT_NE(refusal("run " + ok + " -o " + path("never_run") + " --model mlp")
                .find("model 'mlp' takes samples"),
            std::string::npos);
  const std::string groups = config("groups", "model = \"mnist-cnn\"");
  std::ofstream(groups, std::ios::app) << "groups = [\"layer9\"]\n";
  EXPECT_NE(refusal("run " + groups + " -o " + path("never_run"))
                .find("field 'strategy[0].noise.groups': noise-stability: unknown layer group "
                      "'layer9'"),
            std::string::npos);
  // MC-dropout on a regression set scores the output variance (mc_score = "auto"); what cannot
  // score a regression set says so before starting.
  ASSERT_EQ(quiet(kNsal + " data synth regression -o " + path("reg2.h5") + " --train 80 --test 20"),
            0);
  auto regression_run = [&](const std::string& name, const std::string& strategy) {
    const std::string p = path(name + ".toml");
    std::ofstream(p) << "dataset = \"" << path("reg2.h5") << "\"\nmodel = \"mlp\"\n"
                     << "initial = 10\nquery = 10\ncycles = 2\n[train]\nepochs = 1\n"
                     << "[[strategy]]\nmc_passes = 3\n"
                     << strategy << "\n";
    return p;
  };
  const Bad regression_cases[] = {
      {regression_run("mc_entropy", "name = \"mc-dropout\"\nmc_score = \"entropy\""),
       "field 'strategy[0]': mc-dropout: regression scores the variance of the outputs"},
      {regression_run("bald", "name = \"bald\""),
       "field 'strategy[0]': bald: the mutual information needs class probabilities"},
      {regression_run("probs", "name = \"noise-stability\"\n[strategy.noise]\noutput = \"probs\""),
       "field 'strategy[0].noise.output': noise-stability: output = \"probs\" is a softmax"},
      {regression_run("entropy", "name = \"entropy\""),
       "field 'strategy[0]': entropy: scores class probabilities per sample, so it needs a "
       "classification dataset (this one is regression)"},
  };
  for (const Bad& b : regression_cases)
    EXPECT_NE(refusal("run " + b.config + " -o " + path("never_run")).find(b.says),
              std::string::npos)
        << b.config;
  EXPECT_FALSE(fs::exists(path("never_run")));
  EXPECT_EQ(quiet(kNsal + " run -q " + regression_run("mc_auto", "name = \"mc-dropout\"") + " -o " +
                  path("mc_run")),
            0)
      << "the mlp's dropout serves MC-dropout";
}

// --strategies picks and orders strategies; one the file also lists keeps the file's settings
// (its [strategy.noise] used to be dropped for the defaults without a word).
TEST_F(CliChecks, StrategiesFlagKeepsTheFilesSettings) {
  const std::string p = path("strategies.toml");
  std::ofstream(p) << "dataset = \"" << path("d3.h5") << "\"\ninitial = 10\nquery = 10\n"
                   << "cycles = 1\n[train]\nepochs = 1\n"
                   << "[[strategy]]\nname = \"noise-stability\"\n[strategy.noise]\n"
                   << "preset = \"released\"\ndraws = 2\nlambda = 0.01\n"
                   << "[[strategy]]\nname = \"mc-dropout\"\nmc_passes = 3\n";
  ASSERT_EQ(quiet(kNsal + " run -q " + p + " -o " + path("flagged") +
                  " --strategies random,noise-stability:released,mc-dropout,"
                  "noise-stability:paper"),
            0);
  const RunConfig saved = load_run_config(path("flagged") + "/config.toml");
  ASSERT_EQ(saved.strategies.size(), 4u);
  EXPECT_EQ(saved.strategies[0].name, "random");
  EXPECT_EQ(saved.strategies[1].label(), "noise-stability(released)");
  EXPECT_EQ(saved.strategies[1].ns.draws, 2);  // from the file
  EXPECT_DOUBLE_EQ(saved.strategies[1].ns.lambda, 0.01);
  EXPECT_EQ(saved.strategies[2].mc_passes, 3);
  EXPECT_EQ(saved.strategies[3].label(), "noise-stability(paper)");  // not in the file: defaults
  EXPECT_EQ(saved.strategies[3].ns.draws, StrategyConfig().ns.draws);
}

// Noise stability compares a regression model's outputs themselves (auto), never a softmax over
// one value (every score was 0 and the lowest indices were chosen); predict gives predictions in
// target units.
TEST_F(CliChecks, RegressionScoresAndPredictionsAreTheOutputsThemselves) {
  ASSERT_EQ(quiet(kNsal + " data synth regression -o " + path("reg3.h5") + " --train 60 --test 20"),
            0);
  ASSERT_EQ(quiet(kNsal + " train -q --dataset " + path("reg3.h5") +
                  " --model mlp --device cpu --epochs 2 -o " + path("mlp3")),
            0);
  const std::string ck = path("mlp3/checkpoint.h5");
  ASSERT_EQ(quiet(kNsal + " score " + ck + " --dataset " + path("reg3.h5") +
                  " --device cpu -k 3 -o " + path("reg3_scores")),
            0);
  const std::string csv = read_file(path("reg3_scores.csv"));
  int zeros = 0, rows = 0;
  for (size_t at = csv.find('\n'); at + 1 < csv.size(); at = csv.find('\n', at + 1)) {
    const std::string line = csv.substr(at + 1, csv.find('\n', at + 1) - at - 1);
    ++rows;
    zeros += std::stod(line.substr(line.find(',') + 1)) == 0.0;
  }
  EXPECT_EQ(rows, 60);
  EXPECT_EQ(zeros, 0) << csv;
  EXPECT_NE(refusal("score " + ck + " --dataset " + path("reg3.h5") + " --device cpu --output " +
                    "probs -o " + path("never_scores"))
                .find("output = \"probs\" is a softmax over classes"),
            std::string::npos);
  ASSERT_EQ(quiet(kNsal + " predict " + ck + " --dataset " + path("reg3.h5") + " --device cpu -o " +
                  path("reg3_pred.h5")),
            0);
  ASSERT_EQ(quiet(kNsal + " predict " + ck + " --dataset " + path("reg3.h5") +
                  " --device cpu --output logits -o " + path("reg3_logits.h5")),
            0);
  // values = logits (standardised) * target std + target mean
  const data::DatasetInfo info = data::read_info(path("reg3.h5"));
  ASSERT_EQ(info.target_mean.size(), 1u);
  const Tensor values =
      h5::File::open(path("reg3_pred.h5")).open_dataset("values").read_tensor(DType::f32);
  const Tensor logits =
      h5::File::open(path("reg3_logits.h5")).open_dataset("logits").read_tensor(DType::f32);
  ASSERT_EQ(values.numel(), 20);
  for (int64_t i = 0; i < values.numel(); ++i)
    EXPECT_FLOAT_EQ(values.data<float>()[i],
                    logits.data<float>()[i] * info.target_std[0] + info.target_mean[0]);
  EXPECT_NE(refusal("predict " + ck + " --dataset " + path("reg3.h5") +
                    " --device cpu --output probs -o " + path("never_pred.h5"))
                .find("holds regression targets"),
            std::string::npos);
}

// Segmentation: class probabilities per pixel by default; the per-sample uncertainty
// strategies refuse it before any work.
TEST_F(CliChecks, SegmentationPredictsPerPixelProbabilities) {
  ASSERT_EQ(quiet(kNsal + " data synth segmentation -o " + path("seg.h5") +
                  " --train 8 --test 4 --size 16"),
            0);
  ASSERT_EQ(quiet(kNsal + " train -q --dataset " + path("seg.h5") +
                  " --model drn-d-22 --device cpu --epochs 1 -o " + path("drn")),
            0);
  ASSERT_EQ(quiet(kNsal + " predict " + path("drn/checkpoint.h5") + " --dataset " + path("seg.h5") +
                  " --device cpu -o " + path("seg_probs.h5")),
            0);
  h5::File f = h5::File::open(path("seg_probs.h5"));
  const Tensor p = f.open_dataset("probs").read_tensor(DType::f32);
  ASSERT_EQ(p.shape(), (Shape{4, 4, 16, 16}));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t q = 0; q < 256; ++q) {
      double sum = 0;
      for (int64_t c = 0; c < 4; ++c)
        sum += p.data<float>()[(i * 4 + c) * 256 + q];
      ASSERT_NEAR(sum, 1.0, 1e-5) << "sample " << i << " pixel " << q;
    }
  EXPECT_NE(refusal("query " + path("drn/checkpoint.h5") + " --dataset " + path("seg.h5") +
                    " --device cpu --strategy margin -n 2 -o " + path("never_q.txt"))
                .find("margin: scores class probabilities per sample"),
            std::string::npos);
}

// Class names must each say one class: people label by name or by id.
TEST_F(CliChecks, ClassNamesThatWouldMislabelAreRefused) {
  write_idx_set(path("idx_names"));
  struct Bad {
    std::string names, says;
  };
  const Bad cases[] = {
      {"mnist", "--class-names mnist: 10 names, but"},
      {"a,a,b", "'a' is given twice"},
      {"a,,c", "name 1 is empty"},
      {"2,0,1", "'2' names class 0, but reads as class id 2"},
  };
  for (const Bad& b : cases) {
    const std::string err = refusal("data convert " + path("idx_names") + " --format idx -o " +
                                    path("names.h5") + " --class-names " + b.names);
    EXPECT_NE(err.find(b.says), std::string::npos) << b.names << ": " << err;
    EXPECT_FALSE(file_exists(path("names.h5")));
  }
  EXPECT_EQ(quiet(kNsal + " data convert " + path("idx_names") + " --format idx -o " +
                  path("names.h5") + " --class-names 0,1,2"),
            0);
}

// A model that cannot run on the data is refused before an output folder is made: a segmentation
// model on a classification set, sides the architecture cannot take, the released preset on
// per-pixel outputs; train does not overwrite a checkpoint unasked.
TEST_F(CliChecks, ModelsThatCannotRunOnTheDataAreRefusedFirst) {
  const std::string train = "train -q --device cpu --epochs 1 ";
  EXPECT_NE(refusal(train + "--dataset " + path("d3.h5") + " --model drn-d-22 -o " + path("no1"))
                .find("model 'drn-d-22' segments (per-pixel outputs), but"),
            std::string::npos);
  ASSERT_EQ(quiet(kNsal + " data synth segmentation -o " + path("seg12.h5") +
                  " --train 4 --test 2 --size 12"),
            0);
  EXPECT_NE(refusal(train + "--dataset " + path("seg12.h5") + " --model drn-d-22 -o " + path("no2"))
                .find("model 'drn-d-22' cannot run on the samples of"),
            std::string::npos);
  ASSERT_EQ(quiet(kNsal + " data synth segmentation -o " + path("seg28.h5") +
                  " --train 4 --test 2 --size 28"),
            0);
  EXPECT_NE(
      refusal(train + "--dataset " + path("seg28.h5") + " --model mnist-cnn -o " + path("no3"))
          .find("gives one output vector per sample, but"),
      std::string::npos);
  const std::string seg = path("seg16.h5");
  ASSERT_EQ(quiet(kNsal + " data synth segmentation -o " + seg + " --train 8 --test 4 --size 16"),
            0);
  std::ofstream(path("released.toml"))
      << "dataset = \"" << seg << "\"\nmodel = \"drn-d-22\"\ninitial = 4\nquery = 2\ncycles = 2\n"
      << "[[strategy]]\nname = \"noise-stability\"\n[strategy.noise]\npreset = \"released\"\n";
  EXPECT_NE(refusal("run " + path("released.toml") + " -o " + path("no4"))
                .find("the released preset compares one vector per sample"),
            std::string::npos);
  for (const char* dir : {"no1", "no2", "no3", "no4"})
    EXPECT_FALSE(fs::exists(path(dir))) << dir;
  EXPECT_NE(refusal(train + "--dataset " + path("d3.h5") + " --model mnist-cnn -o " + path("cnn"))
                .find("checkpoint.h5 exists; pass --force"),
            std::string::npos);
}

TEST_F(CliChecks, SmallMistakesGetPlainMessages) {
  EXPECT_NE(refusal("bogus").find("unknown command 'bogus' (commands: "), std::string::npos);
  EXPECT_NE(refusal("data info " + root_.string()).find("a directory, not an HDF5 file"),
            std::string::npos);
  // An option of another strategy is ignored, and said to be.
  ASSERT_EQ(run_shell(kNsal + " query " + path("cnn/checkpoint.h5") + " --dataset " +
                      path("d3.h5") + " --device cpu --strategy entropy --lambda 0.01 -n 2 -o " +
                      path("noted.txt") + " > /dev/null 2> " + path("noted_err.txt")),
            0);
  EXPECT_NE(read_file(path("noted_err.txt"))
                .find("note: --lambda applies to --strategy noise-stability, not entropy; ignored"),
            std::string::npos)
      << read_file(path("noted_err.txt"));
  // An indices file written on Windows (CRLF) reads like any other.
  std::ofstream(path("crlf.txt"), std::ios::binary) << "5\r\n7\r\n";
  EXPECT_EQ(read_indices(path("crlf.txt")), (std::vector<int64_t>{5, 7}));
}

}  // namespace nsal::al
