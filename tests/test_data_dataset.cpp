#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "data/dataset.h"
#include "data/dataset_writer.h"
#include "data/sha256.h"
#include "nn/hdf5.h"
#include "tests/test_data_util.h"

namespace nsal::data {

using nsal::testing::TempDir;

static ReadOptions bytes_only() {
  ReadOptions o;
  o.x_as_float = false;
  return o;
}
static ReadOptions labels_only() {
  ReadOptions o;
  o.load_x = false;
  return o;
}
static WriteOptions forced() {
  WriteOptions o;
  o.force = true;
  return o;
}

template <typename F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError)";
}

#define EXPECT_ERROR_HAS(stmt, ...)                            \
  do {                                                         \
    std::string msg_ = error_of([&] { stmt; });                \
    for (const char* part_ : {__VA_ARGS__})                    \
      EXPECT_NE(msg_.find(part_), std::string::npos)           \
          << "error '" << msg_ << "' lacks '" << part_ << "'"; \
  } while (0)

// n images (n, c, h, w) of bytes i * 7 + j, labels i % classes.
static Dataset image_split(int64_t n, int64_t c, int64_t h, int64_t w, int classes) {
  Dataset d;
  d.task = Task::classification;
  d.num_classes = classes;
  d.x = Tensor({n, c, h, w}, DType::u8);
  for (int64_t i = 0; i < d.x.numel(); ++i)
    d.x.data<uint8_t>()[i] = static_cast<uint8_t>((i * 7 + i / 13) % 256);
  d.y = Tensor({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i)
    d.y.data<int32_t>()[i] = static_cast<int32_t>(i % classes);
  return d;
}

TEST(DataDataset, ImagesRoundTripAsBytesAndAsFloats) {
  TempDir dir;
  std::string path = dir / "img.h5";
  Dataset train = image_split(10, 3, 4, 5, 3), test = image_split(4, 3, 4, 5, 3);
  train.class_names = {"a", "b", "c"};
  train.source = "unit test";
  train.source_sha256 = "00  none";
  write_dataset(path, train, test);

  Dataset f = read_dataset(path, "train");
  EXPECT_EQ(f.x.dtype(), DType::f32);
  EXPECT_EQ(f.x.shape(), (Shape{10, 3, 4, 5}));
  for (int64_t i = 0; i < f.x.numel(); i += 17)
    EXPECT_FLOAT_EQ(f.x.at(i), train.x.at(i) / 255.0f);
  EXPECT_EQ(f.y.to_vector(), train.y.to_vector());
  EXPECT_EQ(f.class_names, train.class_names);
  EXPECT_EQ(f.num_classes, 3);
  EXPECT_EQ(f.source, "unit test");
  EXPECT_EQ(f.split, "train");

  Dataset b = read_dataset(path, "test", bytes_only());
  EXPECT_EQ(b.x.dtype(), DType::u8);
  EXPECT_EQ(b.x.to_vector(), test.x.to_vector());
  EXPECT_EQ(list_splits(path), (std::vector<std::string>{"train", "test"}));

  // mean/std were computed over train, per channel, in [0, 1] units.
  ASSERT_EQ(f.mean.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    double s = 0, ss = 0;
    int cnt = 0;
    for (int i = 0; i < 10; ++i)
      for (int p = 0; p < 20; ++p) {
        double v = train.x.at((i * 3 + c) * 20 + p) / 255.0;
        s += v;
        ss += v * v;
        ++cnt;
      }
    double m = s / cnt;
    EXPECT_NEAR(f.mean[c], m, 1e-6);
    EXPECT_NEAR(f.std[c], std::sqrt(ss / cnt - m * m), 1e-6);
  }
  // Content checksums are those of the stored bytes.
  h5::File h = h5::File::open(path);
  EXPECT_EQ(h.open_dataset("train/x").get_string("sha256"),
            sha256_hex(train.x.raw(), train.x.nbytes()));
  EXPECT_EQ(h.open_dataset("train/y").get_string("sha256"),
            sha256_hex(train.y.raw(), train.y.nbytes()));
}

TEST(DataDataset, RegressionAndSegmentationRoundTrip) {
  TempDir dir;
  Dataset r;
  r.task = Task::regression;
  r.x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2});
  r.y = Tensor::from_vector({10, 20, 60}, {3});
  r.feature_names = {"a", "b"};
  write_dataset(dir / "r.h5", r, r);
  Dataset rr = read_dataset(dir / "r.h5", "test");
  EXPECT_EQ(rr.task, Task::regression);
  EXPECT_EQ(rr.x.to_vector(), r.x.to_vector());
  EXPECT_EQ(rr.y.to_vector(), r.y.to_vector());
  EXPECT_EQ(rr.feature_names, r.feature_names);
  ASSERT_EQ(rr.target_mean.size(), 1u);
  EXPECT_FLOAT_EQ(rr.target_mean[0], 30.f);
  EXPECT_NEAR(rr.mean[1], 4.0, 1e-6);

  Dataset s;
  s.task = Task::segmentation;
  s.num_classes = 4;
  s.ignore_index = 255;
  s.x = Tensor::zeros({2, 1, 2, 3});
  s.y = Tensor::from_vector({0, 1, 2, 3, 255, 0, 1, 1, 1, 2, 2, 2}, {2, 2, 3}, DType::i32);
  write_dataset(dir / "s.h5", s, s);
  EXPECT_EQ(h5::File::open(dir / "s.h5").open_dataset("train/y").type(), h5::Type::u8);
  Dataset sr = read_dataset(dir / "s.h5", "train");
  EXPECT_EQ(sr.y.dtype(), DType::i32);
  EXPECT_EQ(sr.y.to_vector(), s.y.to_vector());
  EXPECT_EQ(sr.ignore_index, 255);
  EXPECT_EQ(class_counts(sr), (std::vector<int64_t>{2, 4, 4, 1}));
}

TEST(DataDataset, ValidationNamesTheFieldAndSample) {
  Dataset d = image_split(6, 1, 2, 2, 3);
  d.split = "train";
  d.y.data<int32_t>()[4] = 7;
  EXPECT_ERROR_HAS(validate(d), "train/y", "label 7 of sample 4", "[0, 3)");
  d.y.data<int32_t>()[4] = -1;
  EXPECT_ERROR_HAS(validate(d), "label -1 of sample 4");

  Dataset f;
  f.split = "test";
  f.task = Task::regression;
  f.x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  f.x.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  f.y = Tensor::from_vector({1, 2}, {2});
  EXPECT_ERROR_HAS(validate(f), "test/x", "NaN at sample 1 (element 1 of 2)");
  f.x.data<float>()[3] = 0;
  f.y.data<float>()[0] = std::numeric_limits<float>::infinity();
  EXPECT_ERROR_HAS(validate(f), "test/y", "+Inf at sample 0");
  f.y = Tensor::from_vector({1, 2, 3}, {3});
  EXPECT_ERROR_HAS(validate(f), "3 labels for 2 samples", "counts disagree");

  Dataset e;
  e.split = "train";
  e.task = Task::classification;
  e.num_classes = 2;
  e.x = Tensor({0, 1, 2, 2});
  e.y = Tensor({0}, DType::i32);
  EXPECT_ERROR_HAS(validate(e), "empty dataset");

  Dataset n = image_split(4, 1, 2, 2, 2);
  n.class_names = {"only one"};
  EXPECT_ERROR_HAS(validate(n), "1 class names for 2 classes");
  n.class_names.clear();
  n.mean = {0.5f, 0.5f};
  n.std = {1.f, 1.f};
  EXPECT_ERROR_HAS(validate(n), "2 normalisation values for samples of shape (1, 2, 2)");
  n.mean = {0.5f};
  n.std = {0.f};
  EXPECT_ERROR_HAS(validate(n), "std must be finite and > 0");

  Dataset m;
  m.task = Task::segmentation;
  m.num_classes = 3;
  m.ignore_index = 255;
  m.x = Tensor::zeros({1, 1, 2, 2});
  m.y = Tensor::from_vector({0, 1, 254, 255}, {1, 2, 2}, DType::i32);
  EXPECT_ERROR_HAS(validate(m), "label 254 at sample 0, pixel (row 1, column 0)",
                   "nor the ignore index 255");
  m.y = Tensor::from_vector({0, 1, 2, 255}, {1, 1, 4}, DType::i32);
  EXPECT_ERROR_HAS(validate(m), "masks must be int32 (N, H, W) matching x samples (1, 2, 2)");
}

TEST(DataDataset, CorruptLabelsInAFileAreCaughtOnRead) {
  TempDir dir;
  std::string path = dir / "c.h5";
  Dataset d = image_split(5, 1, 2, 2, 4);
  write_dataset(path, d, d);
  {
    h5::File f = h5::File::open(path, true);
    int32_t bad = 9;
    f.open_dataset("test/y").write_slab({2}, {1}, &bad, h5::Type::i32);
  }
  EXPECT_NO_THROW(read_dataset(path, "train"));
  EXPECT_ERROR_HAS(read_dataset(path, "test"), path.c_str(), "/test/y",
                   "label 9 of sample 2 is outside [0, 4)");
  EXPECT_ERROR_HAS(read_dataset(path, "test", labels_only()), "label 9 of sample 2");
  EXPECT_ERROR_HAS(read_dataset(path, "val"), "/val: missing split", "test, train");
}

TEST(DataDataset, Uint8ImagesMustBeStoredAsValueOver255) {
  TempDir dir;
  std::string path = dir / "s.h5";
  Dataset d = image_split(5, 1, 2, 2, 4);
  write_dataset(path, d, d);
  h5::File::open(path, true).open_dataset("train/x").set_double("scale", 1.0);
  EXPECT_ERROR_HAS(read_dataset(path, "train"), path.c_str(), "/train/x", "scale 1 on uint8 images",
                   "must be 1/255");
  EXPECT_ERROR_HAS(read_dataset(path, "train", bytes_only()), "scale 1 on uint8 images");
  EXPECT_NO_THROW(read_dataset(path, "test"));
}

TEST(DataDataset, ForeignAndMissingFilesAreRefused) {
  TempDir dir;
  { h5::File::create(dir / "plain.h5").set_string("hello", "world"); }
  EXPECT_ERROR_HAS(read_dataset(dir / "plain.h5", "train"), "plain.h5", "not an nsal dataset file");
  nsal::testing::write_text(dir / "t.h5", "text");
  EXPECT_ERROR_HAS(read_dataset(dir / "t.h5", "train"), "t.h5", "not an HDF5 file");
  EXPECT_ERROR_HAS(read_dataset(dir / "none.h5", "train"), "none.h5", "cannot open");
}

TEST(DataDataset, WritingNeverHalfWritesOrOverwrites) {
  TempDir dir;
  std::string path = dir / "w.h5";
  Dataset d = image_split(4, 1, 2, 2, 2);
  write_dataset(path, d, d);
  EXPECT_ERROR_HAS(write_dataset(path, d, d), "already exists", "--force");
  Dataset bad = image_split(4, 1, 2, 2, 2);
  bad.y.data<int32_t>()[3] = 5;
  EXPECT_ERROR_HAS(write_dataset(path, d, bad, forced()), "label 5 of sample 3");
  // The failed write left the old file as it was and no temporary behind.
  EXPECT_EQ(read_dataset(path, "test").y.to_vector(), d.y.to_vector());
  EXPECT_FALSE(nsal::testing::file_exists(path + ".tmp"));

  // A streaming writer abandoned half way leaves nothing.
  std::string p2 = dir / "half.h5";
  {
    DatasetInfo info;
    info.num_classes = 2;
    DatasetWriter w(p2, info, {});
    w.begin_split("train", 4, {1, 2, 2}, DType::u8, {}, DType::i32);
    w.append(d.x.slice0(0, 2), d.y.slice0(0, 2));
    EXPECT_ERROR_HAS(w.end_split(), "2 of the declared 4 samples");
  }
  EXPECT_FALSE(nsal::testing::file_exists(p2));
  EXPECT_FALSE(nsal::testing::file_exists(p2 + ".tmp"));
}

TEST(DataDataset, LabelsOnlyReadSkipsTheImages) {
  TempDir dir;
  Dataset d = image_split(7, 1, 3, 3, 3);
  write_dataset(dir / "l.h5", d, d);
  Dataset l = read_dataset(dir / "l.h5", "train", labels_only());
  EXPECT_FALSE(l.x.defined() && l.x.numel() > 0);
  EXPECT_EQ(class_counts(l), (std::vector<int64_t>{3, 2, 2}));
}

}  // namespace nsal::data
