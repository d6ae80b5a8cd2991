// `nsal data ...` end to end: the program's exit status and messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "tests/test_data_util.h"

namespace nsal::data {

namespace {

struct CliRun {
  int status = -1;
  std::string output;
};

CliRun nsal(const std::string& args) {
  std::string cmd = std::string(NSAL_BINARY_DIR) + "/nsal " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool have_binary() {
  return nsal::testing::file_exists(std::string(NSAL_BINARY_DIR) + "/nsal");
}

}  // namespace

TEST(DataCli, SynthInfoAndForce) {
  if (!have_binary()) GTEST_SKIP() << "the nsal program is not built in " << NSAL_BINARY_DIR;
  nsal::testing::TempDir dir;
  std::string out = dir / "s.h5";
  CliRun r = nsal("data synth segmentation --train 12 --test 3 --classes 3 -o " + out);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("train: 12 samples"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pixels per class"), std::string::npos) << r.output;
  r = nsal("data synth segmentation --train 12 --test 3 -o " + out);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("already exists; pass --force"), std::string::npos) << r.output;
  r = nsal("data synth segmentation --train 12 --test 4 --force -o " + out);
  EXPECT_EQ(r.status, 0) << r.output;
  r = nsal("data info --verify " + out);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("test: 4 samples"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("checksums: all arrays match"), std::string::npos) << r.output;
  r = nsal(
      "data synth cryoet --classes 2 --train-per-class 2 --test-per-class 1 --size 12 --max-shift "
      "1 -o " +
      (dir / "c.h5"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("x: float32 (4, 1, 12, 12, 12)"), std::string::npos) << r.output;
}

TEST(DataCli, BadInputGivesAMessageAndNonZeroStatus) {
  if (!have_binary()) GTEST_SKIP() << "the nsal program is not built in " << NSAL_BINARY_DIR;
  nsal::testing::TempDir dir;
  CliRun r = nsal("data info " + (dir / "missing.h5"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("missing.h5: cannot open"), std::string::npos) << r.output;
  nsal::testing::write_text(dir / "t.csv", "a,b,y\n1,2,3\n4,5\n");
  r = nsal("data convert --format csv --target y -o " + (dir / "t.h5") + " " + (dir / "t.csv"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("t.csv: line 3: 2 fields, but the header has 3"), std::string::npos)
      << r.output;
  EXPECT_FALSE(nsal::testing::file_exists(dir / "t.h5"));
  r = nsal("data convert --format idx --target y -o " + (dir / "i.h5") + " " + dir.path().string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--target does not apply to --format idx"), std::string::npos)
      << r.output;
  r = nsal("data convert --format idx -o " + (dir / "i.h5") + " " + dir.path().string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no train-images-idx3-ubyte"), std::string::npos) << r.output;
  r = nsal("data convert --format mnist -o x.h5 in");
  EXPECT_NE(r.status, 0);
}

}  // namespace nsal::data
