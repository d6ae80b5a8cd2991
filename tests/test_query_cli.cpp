// `nsal query` through the command line with every strategy: N distinct pool samples, the
// labelled ones left out, entropy's choice equal to the top entropies of `nsal predict`'s
// probabilities, seeded randomness, the annotation export, and clear errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <set>

#include "al/atomic_file.h"
#include "nn/hdf5.h"
#include "tests/run_test_util.h"

namespace fs = std::filesystem;

namespace nsal::al {

namespace {

using nsal::testing::kNsal;
using nsal::testing::run_shell;

class QueryCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nsal_query_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    ASSERT_EQ(run_shell(kNsal + " data synth images -o " + path("d.h5") +
                        " --train 120 --test 30 --size 28 --classes 3 --noise 0.3 > /dev/null"),
              0);
    ASSERT_EQ(
        run_shell(kNsal + " train -q --dataset " + path("d.h5") +
                  " --model mnist-cnn --device cpu --epochs 1 --optimizer adam --lr 0.002 -o " +
                  path("model") + " > /dev/null"),
        0);
    std::vector<int64_t> labelled(20);
    std::iota(labelled.begin(), labelled.end(), 40);  // samples 40..59
    write_indices(path("labelled.txt"), labelled);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  static std::string path(const std::string& name) { return (root_ / name).string(); }
  // Runs a query that must be refused; returns what it printed on stderr.
  static std::string refusal(const std::string& options) {
    int rc = run_shell(kNsal + " query " + path("model/checkpoint.h5") + " --dataset " +
                       path("d.h5") + " --device cpu -o " + path("x.txt") + " " + options +
                       " > /dev/null 2> " + path("err.txt"));
    EXPECT_NE(rc, 0) << options;
    EXPECT_FALSE(file_exists(path("x.txt"))) << options << ": a refused query writes nothing";
    return read_file(path("err.txt"));
  }
  // Runs nsal query with `options`; returns the chosen indices (empty on failure).
  static std::vector<int64_t> query(const std::string& options, const std::string& out) {
    int rc =
        run_shell(kNsal + " query " + path("model/checkpoint.h5") + " --dataset " + path("d.h5") +
                  " --device cpu -o " + path(out) + " " + options + " > /dev/null");
    return rc == 0 ? read_indices(path(out)) : std::vector<int64_t>{};
  }
  static fs::path root_;
};
fs::path QueryCli::root_;

}  // namespace

TEST_F(QueryCli, EveryStrategyChoosesDistinctUnlabelledSamples) {
  for (std::string s : {"noise-stability", "random", "entropy", "margin", "least-confidence",
                        "mc-dropout", "bald", "coreset"}) {
    std::vector<int64_t> q =
        query("--strategy " + s + " -n 7 -k 3 --mc-passes 3 --labelled " + path("labelled.txt"),
              s + ".txt");
    ASSERT_EQ(q.size(), 7u) << s;
    std::set<int64_t> u(q.begin(), q.end());
    EXPECT_EQ(u.size(), 7u) << s << ": a sample chosen twice";
    for (int64_t i : q) {
      EXPECT_TRUE(i >= 0 && i < 120) << s << ": " << i;
      EXPECT_FALSE(i >= 40 && i < 60) << s << ": labelled sample " << i << " chosen";
    }
  }
  // The released preset goes through the same command.
  EXPECT_EQ(query("--preset released -n 5 -k 3", "released.txt").size(), 5u);
}

TEST_F(QueryCli, EntropyChoosesTheMostUncertainPredictions) {
  ASSERT_EQ(
      run_shell(kNsal + " predict " + path("model/checkpoint.h5") + " --dataset " + path("d.h5") +
                " --split train --output probs --device cpu -o " + path("p.h5") + " > /dev/null"),
      0);
  Tensor p = h5::File::open(path("p.h5")).open_dataset("probs").read_tensor(DType::f64);
  ASSERT_EQ(p.dim(0), 120);
  const int64_t c = p.dim(1);
  std::vector<std::pair<double, int64_t>> h;  // (-entropy, index): ascending = most uncertain
  for (int64_t i = 0; i < 120; ++i) {
    double e = 0;
    for (int64_t k = 0; k < c; ++k) {
      double v = p.data<double>()[i * c + k];
      e -= v > 0 ? v * std::log(v) : 0;
    }
    h.push_back({-e, i});
  }
  std::sort(h.begin(), h.end());
  std::vector<int64_t> expected;
  for (int k = 0; k < 6; ++k)
    expected.push_back(h[static_cast<size_t>(k)].second);
  std::vector<int64_t> got = query("--strategy entropy -n 6", "entropy_all.txt");
  std::sort(expected.begin(), expected.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
}

TEST_F(QueryCli, RandomIsSeeded) {
  std::vector<int64_t> a = query("--strategy random -n 10 --seed 3", "r1.txt");
  std::vector<int64_t> b = query("--strategy random -n 10 --seed 3", "r2.txt");
  std::vector<int64_t> c = query("--strategy random -n 10 --seed 4", "r3.txt");
  ASSERT_EQ(a.size(), 10u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST_F(QueryCli, ExportWritesTheAnnotationFolder) {
  std::vector<int64_t> q = query("--strategy margin -n 4 --export " + path("ann"), "m.txt");
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(read_indices(path("ann/requested.txt")), q);
  std::string csv = read_file(path("ann/labels.csv"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  for (int64_t i : q)
    EXPECT_TRUE(file_exists(path("ann/" + std::to_string(i) + ".png"))) << i;
}

TEST_F(QueryCli, BadRequestsAreRefused) {
  struct Bad {
    std::string options, says;
  };
  const Bad cases[] = {
      {"--strategy entropy -n 101 --labelled " + path("labelled.txt"), "[1, 100]"},  // 100 left
      {"--strategy oracle -n 3", "--strategy: oracle not in"},
      {"--strategy mc-dropout --mc-passes 0 -n 3", "--mc-passes: Value 0 not in range 1"},
  };
  for (const Bad& b : cases) {
    const std::string err = refusal(b.options);
    EXPECT_NE(err.find("nsal: error: "), std::string::npos) << err;
    EXPECT_NE(err.find(b.says), std::string::npos) << b.options << ": " << err;
  }
}

}  // namespace nsal::al
