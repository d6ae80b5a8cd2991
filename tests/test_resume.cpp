// Kill `nsal run` with SIGKILL at several points (mid-training, after scoring, between writing a
// file and renaming it, before a cycle's completion marker) and check that `nsal run --resume`
// ends with exactly the labelled sets and metrics of an uninterrupted run.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include "al/atomic_file.h"
#include "al/file_lock.h"
#include "nn/hdf5.h"
#include "tests/run_test_util.h"

namespace fs = std::filesystem;

namespace nsal::al {

namespace {

using nsal::testing::labelled_sets;
using nsal::testing::metrics_without_times;
using nsal::testing::run_shell;
// Threads are set per command below.
const std::string kNsal = std::string(NSAL_BINARY_DIR) + "/nsal";

class Resume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nsal_resume_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    ASSERT_EQ(run_shell(kNsal + " data synth images -o " + (root_ / "d.h5").string() +
                        " --train 200 --test 60 --size 28 --classes 3 --noise 0.3 > /dev/null"),
              0);
    std::ofstream(root_ / "run.toml") << "dataset = \"" << (root_ / "d.h5").string() << "\"\n"
                                      << R"(model = "mnist-cnn"
device = "cpu"
seed = 7
initial = 20
query = 20
cycles = 3
unlabelled_subset = 100
[train]
epochs = 2
batch_size = 16
optimizer = "adam"
lr = 0.002
[[strategy]]
name = "random"
[[strategy]]
name = "noise-stability"
[strategy.noise]
draws = 3
)";
    ASSERT_EQ(run_shell("OMP_NUM_THREADS=1 " + kNsal + " run -q " + (root_ / "run.toml").string() +
                        " -o " + (root_ / "reference").string()),
              0);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // Runs with NSAL_KILL_AT=point, expects death by SIGKILL, resumes, compares with the reference.
  // `resume_env` is the resume's environment: the run started with one OpenMP thread, and its
  // results do not depend on how many it goes on with.
  void kill_and_resume(const std::string& point,
                       const std::string& resume_env = "OMP_NUM_THREADS=1") {
    std::string dir = (root_ / ("killed_" + point)).string();
    std::string name = point.substr(0, point.find(':'));
    int status = run_shell("OMP_NUM_THREADS=1 NSAL_KILL_AT=" + point + " " + kNsal + " run -q " +
                           (root_ / "run.toml").string() + " -o " + dir + " 2> /dev/null");
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL))
        << point << ": the run was not killed (status " << status << ")";
    ASSERT_NE(metrics_without_times(dir), metrics_without_times((root_ / "reference").string()))
        << point << ": the kill came after the run had finished";
    ASSERT_EQ(run_shell(resume_env + " " + kNsal + " run -q --resume " + dir + " 2> " + dir +
                        "/resume_err.txt"),
              0)
        << point;
    EXPECT_EQ(read_file(dir + "/resume_err.txt"), "") << point;  // no warning: same device
    std::string ref = (root_ / "reference").string();
    EXPECT_EQ(metrics_without_times(dir), metrics_without_times(ref)) << point;
    EXPECT_EQ(labelled_sets(dir), labelled_sets(ref)) << point;
    // environment.jsonl: the killed start, then the resume.
    std::string env = read_file(dir + "/environment.jsonl");
    EXPECT_EQ(std::count(env.begin(), env.end(), '\n'), 2) << env;
    EXPECT_NE(env.find("\"event\":\"start\""), std::string::npos) << env;
    EXPECT_NE(env.find("\"event\":\"resume\"", env.find('\n')), std::string::npos) << env;
  }

  static fs::path root_;
};
fs::path Resume::root_;

}  // namespace

TEST_F(Resume, KilledDuringTraining) {
  kill_and_resume("train-batch:9");
}
TEST_F(Resume, KilledAfterScoring) {
  kill_and_resume("after-scoring:3");
}
TEST_F(Resume, KilledBetweenWritingAndRenaming) {
  kill_and_resume("atomic-write:12");
}
TEST_F(Resume, KilledBeforeTheCycleIsMarkedDone) {
  kill_and_resume("before-done:4");
}

TEST_F(Resume, KilledWhileWritingACheckpoint) {
  kill_and_resume("checkpoint-commit:5");
}
TEST_F(Resume, AResumeOnOtherThreadCountsGivesTheSameResults) {
  kill_and_resume("after-scoring:2", "OMP_NUM_THREADS=2");
  kill_and_resume("train-batch:9", "OMP_NUM_THREADS=3");
}

TEST_F(Resume, AMissingDatasetFailsBeforeTheRunDirectoryExists) {
  std::string dir = (root_ / "no_dataset").string();
  int status = run_shell(kNsal + " run -q " + (root_ / "run.toml").string() +
                         " --dataset /nonexistent.h5 -o " + dir + " 2> /dev/null");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);  // a missing file: command line
  EXPECT_FALSE(fs::exists(dir + "/config.toml"));
}

// A resume goes on with what the run started from: an edited config.toml or initial.txt, or a
// dataset file that now holds other data, is refused naming the file; so is a second process.
TEST_F(Resume, AnEditedRunDirectoryIsRefused) {
  auto copy_of_reference = [&](const std::string& name) {
    const fs::path dir = root_ / name;
    fs::remove_all(dir);
    fs::copy(root_ / "reference", dir, fs::copy_options::recursive);
    fs::remove(dir / "run.lock");
    return dir.string();
  };
  auto refusal = [&](const std::string& dir) {
    int status = run_shell(kNsal + " run -q --resume " + dir + " 2> " + dir + "/err.txt");
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << dir;
    return read_file(dir + "/err.txt");
  };
  // Untouched, a finished run resumes, does nothing, and says so.
  const std::string same = copy_of_reference("same");
  EXPECT_EQ(run_shell("OMP_NUM_THREADS=1 " + kNsal + " run --resume " + same + " 2> " + same +
                      "/out.txt"),
            0);
  EXPECT_NE(read_file(same + "/out.txt").find("nothing left to run"), std::string::npos)
      << read_file(same + "/out.txt");

  const std::string seed = copy_of_reference("edited_seed");
  std::string cfg = read_file(seed + "/config.toml");
  ASSERT_NE(cfg.find("seed = 7"), std::string::npos) << cfg;
  write_file_atomic(seed + "/config.toml", cfg.replace(cfg.find("seed = 7"), 8, "seed = 8"));
  EXPECT_NE(refusal(seed).find("config.toml: changed since the run started"), std::string::npos);

  const std::string initial = copy_of_reference("edited_initial");
  write_indices(initial + "/trial_0/initial.txt", {1});
  EXPECT_NE(refusal(initial).find("initial.txt: not the initial set"), std::string::npos);

  const std::string data = copy_of_reference("other_data");
  std::string fp = read_file(data + "/fingerprint.json");
  const size_t at = fp.find("\"train/y\": \"");
  ASSERT_NE(at, std::string::npos) << fp;
  fp[at + 13] = fp[at + 13] == '0' ? '1' : '0';  // another recorded checksum of /train/y
  write_file_atomic(data + "/fingerprint.json", fp);
  EXPECT_NE(refusal(data).find("/train/y is not what this run started with"), std::string::npos);
  // A finished cycle's selection is what later cycles build on: an edit is refused, named.
  const std::string selected = copy_of_reference("edited_selected");
  const std::string sel = selected + "/trial_0/random/cycle_1/selected.txt";
  std::vector<int64_t> picked = read_indices(sel);
  ASSERT_FALSE(picked.empty());
  picked[0] = picked[0] == 0 ? 1 : 0;
  write_indices(sel, picked);
  EXPECT_NE(refusal(selected).find("cycle_1/selected.txt: changed or missing since the cycle "
                                   "finished"),
            std::string::npos);
  // Without the checksums (a run from before them), the selection is still checked for sense.
  const std::string old = copy_of_reference("old_selected");
  const std::string old_done = old + "/trial_0/random/cycle_1/done.json";
  nlohmann::json done = nlohmann::json::parse(read_file(old_done));
  done.erase("labelled_sha256");
  done.erase("selected_sha256");
  write_file_atomic(old_done, done.dump(2));
  const std::string old_sel = old + "/trial_0/random/cycle_1/selected.txt";
  picked = read_indices(old_sel);
  picked[1] = picked[0];
  write_indices(old_sel, picked);
  EXPECT_NE(refusal(old).find("cycle_1/selected.txt: sample " + std::to_string(picked[0]) +
                              " is listed twice"),
            std::string::npos);
  picked[1] = 99999999;
  write_indices(old_sel, picked);
  EXPECT_NE(refusal(old).find("sample 99999999 is outside the training split (0-199)"),
            std::string::npos);
  // A lost fingerprint cannot be checked against, and the resume says so.
  const std::string lost = copy_of_reference("lost_fingerprint");
  fs::remove(lost + "/fingerprint.json");
  EXPECT_EQ(run_shell(kNsal + " run -q --resume " + lost + " 2> " + lost + "/err.txt"), 0);
  EXPECT_NE(read_file(lost + "/err.txt")
                .find("fingerprint.json: missing; the configuration and dataset cannot be checked"),
            std::string::npos)
      << read_file(lost + "/err.txt");
  // A damaged completion marker is named (it used to surface as a bare JSON parse error).
  const std::string marker = copy_of_reference("damaged_marker");
  write_file_atomic(marker + "/trial_0/random/cycle_1/done.json", "{\"trial\": 0, \"strat");
  EXPECT_NE(refusal(marker).find("cycle_1/done.json: not a metrics row"), std::string::npos);
  // Where the run goes on may change: device and threads, in config.toml or as flags.
  const std::string moved = copy_of_reference("moved");
  cfg = read_file(moved + "/config.toml");
  ASSERT_NE(cfg.find("device = 'cpu'"), std::string::npos) << cfg;
  write_file_atomic(moved + "/config.toml",
                    cfg.replace(cfg.find("device = 'cpu'"), 14, "device = 'auto'"));
  EXPECT_EQ(run_shell(kNsal + " run -q --resume " + moved + " --threads 2 --device cpu 2> " +
                      moved + "/err.txt"),
            0);
  // The same device: nothing to warn about (results do not depend on the thread count).
  EXPECT_EQ(read_file(moved + "/err.txt").find("warning"), std::string::npos)
      << read_file(moved + "/err.txt");
}

TEST_F(Resume, ASecondProcessOnTheSameRunIsRefused) {
  const std::string dir = (root_ / "locked").string();
  fs::remove_all(dir);
  fs::copy(root_ / "reference", dir, fs::copy_options::recursive);
  FileLock held(dir + "/run.lock", FileLock::Wait::refuse);  // as a live `nsal run` holds it
  int status = run_shell(kNsal + " run -q --resume " + dir + " 2> " + dir + "/err.txt");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  EXPECT_NE(read_file(dir + "/err.txt").find("another nsal process is working on this run"),
            std::string::npos)
      << read_file(dir + "/err.txt");
  // A start into a directory whose run is being started by another process (it holds the lock
  // and has not written its config yet) is refused before it writes anything.
  const std::string starting = (root_ / "starting").string();
  fs::remove_all(starting);
  fs::create_directories(starting);
  FileLock other(starting + "/run.lock", FileLock::Wait::refuse);
  status = run_shell(kNsal + " run -q " + (root_ / "run.toml").string() + " -o " + starting +
                     " 2> " + root_.string() + "/err_start.txt");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  EXPECT_NE(read_file(root_.string() + "/err_start.txt").find("another nsal process"),
            std::string::npos)
      << read_file(root_.string() + "/err_start.txt");
  EXPECT_FALSE(fs::exists(starting + "/config.toml"));
  EXPECT_FALSE(fs::exists(starting + "/fingerprint.json"));
}

// A run of device = "auto" that started on a GPU goes on on the CPU of a machine without one
// (a human-oracle run labelled on a laptop, say), and says that its results may move.
TEST_F(Resume, AnAutoRunWhoseGpuIsGoneGoesOnOnTheCpu) {
  const fs::path dir = root_ / "gpu_start";
  fs::remove_all(dir);
  fs::copy(root_ / "reference", dir, fs::copy_options::recursive);
  fs::remove(dir / "run.lock");
  std::string cfg = read_file((dir / "config.toml").string());
  ASSERT_NE(cfg.find("device = 'cpu'"), std::string::npos) << cfg;
  write_file_atomic((dir / "config.toml").string(),
                    cfg.replace(cfg.find("device = 'cpu'"), 14, "device = 'auto'"));
  std::string env = read_file((dir / "environment.jsonl").string());
  ASSERT_NE(env.find("\"device\":\"cpu\""), std::string::npos) << env;
  write_file_atomic((dir / "environment.jsonl").string(),
                    env.replace(env.find("\"device\":\"cpu\""), 14, "\"device\":\"cuda:0\""));
  fs::remove(dir / "trial_0" / "random" / "cycle_2" / "done.json");  // one cycle left to run
  const std::string err = (dir / "err.txt").string();
  EXPECT_EQ(
      run_shell("OMP_NUM_THREADS=1 " + kNsal + " run -q --resume " + dir.string() + " 2> " + err),
      0)
      << read_file(err);
  EXPECT_NE(read_file(err).find("the run started on cuda:0 and goes on on cpu"), std::string::npos)
      << read_file(err);
}

// A start refused for its dataset (here one edited in place after conversion) leaves no run
// behind: the same command goes once the dataset is right.
TEST_F(Resume, AStartRefusedForItsDatasetLeavesNoRun) {
  const fs::path data = root_ / "edited.h5";
  fs::copy_file(root_ / "d.h5", data, fs::copy_options::overwrite_existing);
  {
    h5::File f = h5::File::open(data.string(), /*writable=*/true);
    h5::Dataset y = f.open_group("train").open_dataset("y");
    int32_t label = 0;
    y.read_rows(0, 1, &label, h5::Type::i32);
    label = (label + 1) % 3;
    y.write_rows(0, 1, &label, h5::Type::i32);
  }
  std::string cfg = read_file((root_ / "run.toml").string());
  const std::string from = (root_ / "d.h5").string();
  cfg.replace(cfg.find(from), from.size(), data.string());
  write_file_atomic((root_ / "edited.toml").string(), cfg);
  const std::string dir = (root_ / "edited_start").string();
  const std::string start = kNsal + " run -q " + (root_ / "edited.toml").string() + " -o " + dir;
  EXPECT_NE(run_shell(start + " 2> /dev/null"), 0);
  EXPECT_FALSE(fs::exists(dir + "/config.toml"));
  fs::copy_file(root_ / "d.h5", data, fs::copy_options::overwrite_existing);
  EXPECT_EQ(run_shell("OMP_NUM_THREADS=1 " + start), 0);
}

// Ctrl-C stops a run as a kill does: the exit is the signal's, the run resumes to the same end,
// and the note says how. (The shell waits until the run directory holds its config, so the
// signal comes while the run works.)
TEST_F(Resume, AnInterruptedRunSaysHowToResumeAndResumesExactly) {
  const std::string dir = (root_ / "interrupted").string();
  fs::remove_all(dir);
  const std::string err = (root_ / "interrupted_err.txt").string();
  const int status =
      run_shell("OMP_NUM_THREADS=1 " + kNsal + " run -q " + (root_ / "run.toml").string() + " -o " +
                dir + " 2> " + err + " & pid=$!; while [ ! -e " + dir +
                "/config.toml ] && kill -0 $pid 2> /dev/null; do sleep 0.05; done; kill -INT $pid; "
                "wait $pid");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    GTEST_SKIP() << "the run finished before the signal came";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGINT) << status;
  EXPECT_NE(read_file(err).find("nsal: interrupted; `nsal run --resume " + dir + "` continues"),
            std::string::npos)
      << read_file(err);
  ASSERT_EQ(run_shell("OMP_NUM_THREADS=1 " + kNsal + " run -q --resume " + dir), 0);
  EXPECT_EQ(metrics_without_times(dir), metrics_without_times((root_ / "reference").string()));
  EXPECT_EQ(labelled_sets(dir), labelled_sets((root_ / "reference").string()));
}

TEST_F(Resume, StartingOverAnExistingRunIsRefused) {
  int status = run_shell(kNsal + " run -q " + (root_ / "run.toml").string() + " -o " +
                         (root_ / "reference").string() + " 2> /dev/null");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

}  // namespace nsal::al
