// A run with oracle = "human" end to end through the CLI: it stops for labels, `nsal label import`
// merges them (in parts, killed half-way, or rejected whole), `nsal run --resume` goes on, and
// with the dataset's own labels typed in it ends exactly where the simulated oracle ends.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "al/atomic_file.h"
#include "al/labels.h"
#include "data/csv.h"
#include "data/dataset.h"
#include "tests/run_test_util.h"

namespace fs = std::filesystem;

namespace nsal::al {

namespace {

using nsal::testing::kNsal;
using nsal::testing::labelled_sets;
using nsal::testing::metrics_without_times;
using nsal::testing::run_shell;

bool exited_with(int status, int code) {
  return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

class HumanOracle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nsal_human_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    data_ = (root_ / "d.h5").string();
    ASSERT_EQ(run_shell(kNsal + " data synth images -o " + data_ +
                        " --train 200 --test 60 --size 28 --classes 3 --noise 0.3 > /dev/null"),
              0);
    std::ofstream(root_ / "run.toml") << "dataset = \"" << data_ << "\"\n"
                                      << R"(model = "mnist-cnn"
device = "cpu"
seed = 11
initial = 20
query = 10
cycles = 3
[train]
epochs = 2
batch_size = 16
optimizer = "adam"
lr = 0.002
[[strategy]]
name = "entropy"
)";
    ASSERT_EQ(run_shell(kNsal + " run -q " + (root_ / "run.toml").string() + " -o " +
                        (root_ / "reference").string()),
              0);
    data::ReadOptions ro;
    ro.load_x = false;
    data::Dataset d = data::read_dataset(data_, "train", ro);
    truth_.assign(d.y.data<int32_t>(), d.y.data<int32_t>() + d.size());
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static std::string start_run(const std::string& name) {
    std::string dir = (root_ / name).string();
    EXPECT_EQ(run_shell(kNsal + " run -q --oracle human " + (root_ / "run.toml").string() + " -o " +
                        dir + " > /dev/null"),
              0);
    return dir;
  }
  // Fills the label column of a request's labels.csv with label(index) ("" leaves it empty) and
  // writes the result to `out`.
  static void fill(const std::string& request_dir, const std::string& out,
                   const std::function<std::string(int64_t)>& label) {
    std::string text = read_file(request_dir + "/labels.csv");
    data::CsvTable t = data::parse_csv(text.data(), text.size(), request_dir);
    std::string s = "index,file,label\n";
    for (const auto& r : t.rows)
      s += r[0] + "," + r[1] + "," + label(std::stoll(r[0])) + "\n";
    write_file_atomic(out, s);
  }
  static std::string true_label(int64_t i) {
    return std::to_string(truth_[static_cast<size_t>(i)]);
  }

  static fs::path root_;
  static std::string data_;
  static std::vector<int32_t> truth_;
};
fs::path HumanOracle::root_;
std::string HumanOracle::data_;
std::vector<int32_t> HumanOracle::truth_;

}  // namespace

TEST_F(HumanOracle, TheDatasetsOwnLabelsGiveTheSimulatedOraclesRun) {
  const std::string dir = start_run("human");
  const std::string ref = (root_ / "reference").string();
  ASSERT_TRUE(file_exists(dir + "/annotate/cycle_0/requested.txt"));
  EXPECT_EQ(read_indices(dir + "/annotate/cycle_0/requested.txt"),
            read_indices(ref + "/trial_0/initial.txt"));
  EXPECT_EQ(metrics_without_times(dir), "");  // nothing trained without labels
  for (int c = 0; c < 3; ++c) {
    const std::string req = dir + "/annotate/cycle_" + std::to_string(c);
    ASSERT_TRUE(file_exists(req + "/requested.txt")) << "cycle " << c;
    // First half the rows, the rest empty: the run keeps waiting.
    int row = 0;
    fill(req, root_ / "part.csv", [&](int64_t i) { return row++ % 2 ? "" : true_label(i); });
    ASSERT_EQ(run_shell(kNsal + " label import " + dir + " " + (root_ / "part.csv").string() +
                        " > /dev/null"),
              0);
    const std::string before = metrics_without_times(dir);
    ASSERT_EQ(run_shell(kNsal + " run -q --resume " + dir + " > /dev/null"), 0);
    EXPECT_EQ(metrics_without_times(dir), before) << "cycle " << c << " ran with missing labels";
    // Then all of them (the first half again, which is no change).
    fill(req, root_ / "full.csv", true_label);
    ASSERT_EQ(run_shell(kNsal + " label import " + dir + " " + (root_ / "full.csv").string() +
                        " > /dev/null"),
              0);
    ASSERT_EQ(run_shell(kNsal + " run -q --resume " + dir + " > /dev/null"), 0);
  }
  EXPECT_FALSE(file_exists(dir + "/annotate/cycle_3"));
  EXPECT_EQ(metrics_without_times(dir), metrics_without_times(ref));
  EXPECT_EQ(labelled_sets(dir), labelled_sets(ref));
  EXPECT_EQ(read_label_store(dir + "/labels.csv").size(), 20u + 10u + 10u);
}

TEST_F(HumanOracle, TheRunTrainsOnTheImportedLabels) {
  const std::string dir = start_run("wrong");
  const std::string req = dir + "/annotate/cycle_0";
  // Every label shifted by one class: a different model, a different result.
  fill(req, root_ / "shifted.csv",
       [](int64_t i) { return std::to_string((truth_[static_cast<size_t>(i)] + 1) % 3); });
  ASSERT_EQ(run_shell(kNsal + " label import " + dir + " " + (root_ / "shifted.csv").string() +
                      " > /dev/null"),
            0);
  ASSERT_EQ(run_shell(kNsal + " run -q --resume " + dir + " > /dev/null"), 0);
  std::string human = metrics_without_times(dir);
  std::string ref = metrics_without_times((root_ / "reference").string());
  ASSERT_FALSE(human.empty());
  EXPECT_NE(human.substr(0, human.find('\n')), ref.substr(0, ref.find('\n')));
}

// A label a finished cycle trained on cannot change behind the run's back: a hand edit of
// RUN/labels.csv (changing or deleting it) makes the resume stop, naming the sample and cycle.
TEST_F(HumanOracle, EditingALabelAFinishedCycleUsedIsRefused) {
  const std::string dir = start_run("edited");
  fill(dir + "/annotate/cycle_0", root_ / "c0.csv", true_label);
  ASSERT_EQ(run_shell(kNsal + " label import " + dir + " " + (root_ / "c0.csv").string() +
                      " > /dev/null"),
            0);
  ASSERT_EQ(run_shell(kNsal + " run -q --resume " + dir + " > /dev/null"), 0);  // cycle 0 done
  ASSERT_TRUE(file_exists(dir + "/trial_0/entropy/cycle_0/labels_used.csv"));
  LabelMap store = read_label_store(dir + "/labels.csv");
  const int64_t sample = store.begin()->first;
  store.begin()->second = (store.begin()->second + 1) % 3;
  write_label_store(dir + "/labels.csv", store);
  const std::string err = (root_ / "edited_err.txt").string();
  int status = run_shell(kNsal + " run -q --resume " + dir + " > /dev/null 2> " + err);
  EXPECT_TRUE(exited_with(status, 1));
  EXPECT_NE(read_file(err).find("sample " + std::to_string(sample) + " was labelled"),
            std::string::npos)
      << read_file(err);
  store.erase(store.begin());
  write_label_store(dir + "/labels.csv", store);
  status = run_shell(kNsal + " run -q --resume " + dir + " > /dev/null 2> " + err);
  EXPECT_TRUE(exited_with(status, 1));
  EXPECT_NE(read_file(err).find("has no label"), std::string::npos) << read_file(err);
}

// A hand-written RUN/labels.csv with a class the dataset does not have stops the resume with the
// file and sample named (it used to index past the class counts of class-balanced training).
TEST_F(HumanOracle, AHandWrittenClassOutOfRangeIsRefused) {
  const std::string dir = start_run("out_of_range");
  LabelMap store;
  for (int64_t i : read_indices(dir + "/annotate/cycle_0/requested.txt"))
    store[i] = truth_[static_cast<size_t>(i)];
  const int64_t sample = store.rbegin()->first;
  store.rbegin()->second = 99;
  write_label_store(dir + "/labels.csv", store);
  const std::string err = (root_ / "out_of_range_err.txt").string();
  const int status = run_shell(kNsal + " run -q --resume " + dir + " > /dev/null 2> " + err);
  EXPECT_TRUE(exited_with(status, 1));
  EXPECT_NE(read_file(err).find("labels.csv: sample " + std::to_string(sample) +
                                " has class 99, but the dataset has 3 classes"),
            std::string::npos)
      << read_file(err);
}

TEST_F(HumanOracle, AKilledOrRejectedImportLeavesTheStoreWhole) {
  const std::string dir = start_run("killed");
  const std::string req = dir + "/annotate/cycle_0";
  fill(req, root_ / "k.csv", true_label);
  const std::string import = kNsal + " label import " + dir + " " + (root_ / "k.csv").string();
  int status = run_shell("NSAL_KILL_AT=atomic-write " + import + " > /dev/null 2>&1");
  ASSERT_TRUE(WIFSIGNALED(status) || exited_with(status, 128 + SIGKILL)) << status;
  EXPECT_TRUE(read_label_store(dir + "/labels.csv").empty());
  ASSERT_EQ(run_shell(import + " > /dev/null"), 0);
  const std::string stored = read_file(dir + "/labels.csv");
  EXPECT_EQ(read_label_store(dir + "/labels.csv").size(), 20u);
  // Importing the same file again adds nothing and duplicates nothing.
  ASSERT_EQ(run_shell(import + " > " + (root_ / "again.txt").string()), 0);
  EXPECT_NE(read_file(root_ / "again.txt").find("0 new labels, 20 already stored"),
            std::string::npos);
  EXPECT_EQ(read_file(dir + "/labels.csv"), stored);
  // A file with one changed label is rejected whole, naming the line; the store is unchanged.
  int row = 0;
  fill(req, root_ / "conflict.csv", [&](int64_t i) {
    return row++ == 1 ? std::to_string((truth_[static_cast<size_t>(i)] + 1) % 3) : true_label(i);
  });
  status = run_shell(kNsal + " label import " + dir + " " + (root_ / "conflict.csv").string() +
                     " > /dev/null 2> " + (root_ / "err.txt").string());
  EXPECT_TRUE(exited_with(status, 1)) << status;
  std::string err = read_file(root_ / "err.txt");
  EXPECT_NE(err.find("conflict.csv:3: sample"), std::string::npos) << err;
  EXPECT_EQ(read_file(dir + "/labels.csv"), stored);
  // Labels for a run with the simulated oracle are refused.
  status =
      run_shell(kNsal + " label import " + (root_ / "reference").string() + " " +
                (root_ / "k.csv").string() + " > /dev/null 2> " + (root_ / "err.txt").string());
  EXPECT_TRUE(exited_with(status, 1));
  EXPECT_NE(read_file(root_ / "err.txt").find("oracle"), std::string::npos);
}

}  // namespace nsal::al
