// The run fingerprint (al/run_fingerprint.h) on a dataset whose images are kept as files: the
// stored arrays hold only paths and labels, so an image that changed size, or went missing,
// after the run started must make a resume refuse.
#include <gtest/gtest.h>

#include <filesystem>

#include "al/run_config.h"
#include "al/run_fingerprint.h"
#include "data/convert.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/synth.h"
#include "nn/hdf5.h"
#include "tests/test_data_util.h"

namespace nsal::al {

namespace {

using nsal::testing::expect_has;
using nsal::testing::TempDir;

std::string refusal(const std::string& run, const RunConfig& cfg) {
  try {
    check_run_fingerprint(run, cfg);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(RunFingerprint, ImageFilesThatChangeSizeOrGoMissingAreNoticed) {
  TempDir dir;
  const std::string root = dir / "imgs";
  const char* files[] = {"/train/a/0.png", "/train/b/1.png", "/test/a/2.png", "/test/b/3.png"};
  for (int i = 0; i < 4; ++i)
    nsal::testing::write_bytes(root + files[i],
                               data::encode_png(nsal::testing::rgb_pattern(10, 10, i)));
  data::ImageFolderOptions fo;
  fo.resize = 8;
  fo.crop = 8;
  fo.keep_files = true;
  data::ConvertOptions co;
  co.output = dir / "files.h5";
  data::convert_image_folder(root, fo, co);

  RunConfig cfg;
  cfg.dataset = co.output;
  const std::string run = dir / "run";
  std::filesystem::create_directories(run);
  write_run_fingerprint(run, cfg);
  EXPECT_NO_THROW(check_run_fingerprint(run, cfg));
  const auto sums = run_fingerprint(cfg)["dataset_sha256"];
  EXPECT_TRUE(sums.contains("train/files") && sums.contains("test/files")) << sums.dump();

  // Another image of another size in place of a test image.
  nsal::testing::write_bytes(root + "/test/b/3.png",
                             data::encode_png(nsal::testing::rgb_pattern(14, 14, 3)));
  expect_has(refusal(run, cfg), {"files.h5", "/test/files", "the image files' paths or sizes",
                                 "is not what this run started with", "fingerprint.json"});
  nsal::testing::write_bytes(root + "/test/b/3.png",
                             data::encode_png(nsal::testing::rgb_pattern(10, 10, 3)));
  EXPECT_NO_THROW(check_run_fingerprint(run, cfg));  // the same bytes back: the same sum

  std::filesystem::remove(root + "/train/a/0.png");
  expect_has(refusal(run, cfg), {"/train/files"});
}

// An array edited in place (by h5py, say) keeps the checksum the writer stored with it: the
// fingerprint reads the arrays back, so neither a start nor a resume takes such a file.
TEST(RunFingerprint, AnArrayEditedInPlaceIsRefused) {
  TempDir dir;
  data::SynthOptions so;
  so.train = 12;
  so.test = 4;
  const std::string path = dir / "d.h5";
  data::write_dataset(path, data::synth_images(so, "train"), data::synth_images(so, "test"));
  RunConfig cfg;
  cfg.dataset = path;
  const std::string run = dir / "run";
  std::filesystem::create_directories(run);
  write_run_fingerprint(run, cfg);
  EXPECT_NO_THROW(check_run_fingerprint(run, cfg));
  {
    h5::File f = h5::File::open(path, /*writable=*/true);
    h5::Dataset y = f.open_group("train").open_dataset("y");
    int32_t label = 0;
    y.read_rows(3, 1, &label, h5::Type::i32);
    label = (label + 1) % so.classes;  // another class for sample 3
    y.write_rows(3, 1, &label, h5::Type::i32);
  }
  const std::initializer_list<std::string> says = {
      "d.h5", "/train/y no longer matches the checksum", "edited in place"};
  expect_has(refusal(run, cfg), says);  // a resume
  try {
    run_fingerprint(cfg);  // a start
    ADD_FAILURE() << "a start took the edited file";
  } catch (const DataError& e) {
    expect_has(e.what(), says);
  }
}

}  // namespace nsal::al
