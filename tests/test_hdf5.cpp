#include "nn/hdf5.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>
#include <thread>

#include "tests/test_data_util.h"

namespace nsal::h5 {

using nsal::testing::TempDir;

// Expects `fn` to throw DataError whose message contains every one of `parts`.
template <typename F>
void expect_data_error(F fn, std::vector<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no DataError thrown";
  } catch (const DataError& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message '" << e.what() << "' lacks '" << p << "'";
  }
}

TEST(Hdf5, WholeArraysRoundTripInEveryType) {
  TempDir dir;
  std::string path = dir / "a.h5";
  std::vector<float> f32 = {1.5f, -2.25f, 3e-8f, 4e9f, 0.f, -0.f};
  std::vector<double> f64 = {1.0 / 3, -1e300, 2.5, 4, 5, 6};
  std::vector<int32_t> i32 = {-2147483647 - 1, 2147483647, 0, 1, -1, 7};
  std::vector<int64_t> i64 = {-(int64_t(1) << 62), int64_t(1) << 62, 0, 1, -1, 9};
  std::vector<uint8_t> u8 = {0, 1, 127, 128, 254, 255};
  {
    File f = File::create(path);
    Group g = f.create_group("g");
    g.create_dataset("f32", Type::f32, {2, 3}).write(f32.data(), Type::f32);
    g.create_dataset("f64", Type::f64, {6}).write(f64.data(), Type::f64);
    g.create_dataset("i32", Type::i32, {3, 2}).write(i32.data(), Type::i32);
    g.create_dataset("i64", Type::i64, {1, 6}).write(i64.data(), Type::i64);
    g.create_dataset("u8", Type::u8, {6, 1}, {2, 0, false}).write(u8.data(), Type::u8);
    f.close();
  }
  File f = File::open(path);
  Group g = f.open_group("g");
  EXPECT_EQ(g.children(), (std::vector<std::string>{"f32", "f64", "i32", "i64", "u8"}));
  EXPECT_EQ(g.open_dataset("f32").shape(), (Shape{2, 3}));
  EXPECT_EQ(g.open_dataset("f32").type(), Type::f32);
  EXPECT_EQ(g.open_dataset("u8").type(), Type::u8);
  EXPECT_EQ(g.open_dataset("i64").type(), Type::i64);
  EXPECT_EQ(g.open_dataset("f32").read_all<float>(), f32);
  EXPECT_EQ(g.open_dataset("f64").read_all<double>(), f64);
  EXPECT_EQ(g.open_dataset("i32").read_all<int32_t>(), i32);
  EXPECT_EQ(g.open_dataset("i64").read_all<int64_t>(), i64);
  EXPECT_EQ(g.open_dataset("u8").read_all<uint8_t>(), u8);
  // HDF5 converts on read: uint8 into float, int32 into double.
  std::vector<float> u8f = g.open_dataset("u8").read_all<float>();
  EXPECT_EQ(u8f[5], 255.f);
  Tensor t = g.open_dataset("i32").read_tensor(DType::f64);
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.at(1), 2147483647.0);
}

// No object modification times are stored: the same content written a second later is the same
// bytes, so outputs (checkpoints, scores, datasets) can be compared with cmp or sha256sum.
TEST(Hdf5, TheSameContentIsTheSameBytesWhenEverWritten) {
  TempDir dir;
  auto write = [&](const std::string& path) {
    File f = File::create(path);
    Group g = f.create_group("split");
    Tensor t({3, 2});
    for (int i = 0; i < 6; ++i)
      t.data<float>()[i] = static_cast<float>(i);
    g.write_tensor("x", t, {2, 1, true});
    g.write_strings("names", {"a", "b"});
    f.set_string("what", "test");
  };
  write(dir / "a.h5");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // times have 1 s resolution
  write(dir / "b.h5");
  EXPECT_EQ(nsal::testing::read_bytes(dir / "a.h5"), nsal::testing::read_bytes(dir / "b.h5"));
}

TEST(Hdf5, HyperslabsReadAndWriteBlocks) {
  TempDir dir;
  std::string path = dir / "s.h5";
  File f = File::create(path);
  Dataset d = f.create_dataset("x", Type::i32, {4, 3, 5}, {1, 0, true});
  std::vector<int32_t> all(60);
  std::iota(all.begin(), all.end(), 0);
  d.write_rows(0, 2, all.data(), Type::i32);
  d.write_rows(2, 2, all.data() + 30, Type::i32);
  EXPECT_EQ(d.read_all<int32_t>(), all);
  // Block [1..3) x [1..3) x [2..5).
  std::vector<int32_t> block(12);
  d.read_slab({1, 1, 2}, {2, 2, 3}, block.data(), Type::i32);
  std::vector<int32_t> want;
  for (int i = 1; i < 3; ++i)
    for (int j = 1; j < 3; ++j)
      for (int k = 2; k < 5; ++k)
        want.push_back(i * 15 + j * 5 + k);
  EXPECT_EQ(block, want);
  std::vector<int32_t> row(15);
  d.read_rows(3, 1, row.data(), Type::i32);
  EXPECT_EQ(row[0], 45);
  std::vector<int32_t> minus(12, -1);
  d.write_slab({1, 1, 2}, {2, 2, 3}, minus.data(), Type::i32);
  EXPECT_EQ(d.read_all<int32_t>()[1 * 15 + 1 * 5 + 2], -1);
  expect_data_error([&] { d.read_rows(3, 2, row.data(), Type::i32); },
                    {path, "/x", "outside the shape (4, 3, 5)"});
}

TEST(Hdf5, AttributesOfEveryKind) {
  TempDir dir;
  std::string path = dir / "attr.h5";
  {
    File f = File::create(path);
    f.set_string("task", "classification");
    f.set_string("empty", "");
    f.set_int("num_classes", 10);
    f.set_int("num_classes", 12);  // replaces
    f.set_double("scale", 1.0 / 255);
    f.set_doubles("mean", {0.1, 0.2, 0.3});
    f.set_doubles("none", {});
    f.set_strings("names", {"cat", "dog", "T-shirt/top", ""});
    f.set_strings("no_names", {});
    Dataset d = f.create_dataset("x", Type::f32, {2});
    d.set_string("unit", "pixel");
    f.write_strings("paths", {"a/b.jpg", "c.png"});
  }
  File f = File::open(path);
  EXPECT_EQ(f.get_string("task"), "classification");
  EXPECT_EQ(f.get_string("empty"), "");
  EXPECT_EQ(f.get_int("num_classes"), 12);
  EXPECT_DOUBLE_EQ(f.get_double("scale"), 1.0 / 255);
  EXPECT_EQ(f.get_doubles("mean"), (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_TRUE(f.get_doubles("none").empty());
  EXPECT_EQ(f.get_strings("names"), (std::vector<std::string>{"cat", "dog", "T-shirt/top", ""}));
  EXPECT_TRUE(f.get_strings("no_names").empty());
  EXPECT_EQ(f.get_doubles("num_classes"), (std::vector<double>{12}));
  EXPECT_EQ(f.open_dataset("x").get_string("unit"), "pixel");
  EXPECT_EQ(f.read_strings("paths"), (std::vector<std::string>{"a/b.jpg", "c.png"}));
  EXPECT_TRUE(f.has_attr("task"));
  EXPECT_FALSE(f.has_attr("nope"));
  auto names = f.attr_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "mean"), names.end());
  expect_data_error([&] { f.get_string("nope"); }, {path, "/", "missing attribute 'nope'"});
  expect_data_error([&] { f.get_int("task"); }, {path, "'task' is not a single integer"});
  expect_data_error([&] { f.get_string("mean"); }, {path, "'mean' is not a string"});
  expect_data_error([&] { f.get_double("mean"); }, {path, "'mean' is not a single number"});
}

TEST(Hdf5, FixedLengthStringsFromOtherWritersAreRead) {
  TempDir dir;
  std::string path = dir / "fixed.h5";
  { File::create(path).close(); }
  // An attribute as h5py writes numpy bytes: fixed length, ASCII, null-padded.
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, 8);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, "task", t, s, H5P_DEFAULT, H5P_DEFAULT);
  char buf[8] = {'s', 'e', 'g', 0, 0, 0, 0, 0};
  H5Awrite(a, t, buf);
  H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
  H5Fclose(f);
  File file = File::open(path);
  EXPECT_EQ(file.get_string("task"), "seg");
  EXPECT_EQ(file.get_strings("task"), (std::vector<std::string>{"seg"}));
}

TEST(Hdf5, MissingObjectsAndBadFilesNameTheFile) {
  TempDir dir;
  std::string path = dir / "m.h5";
  { File::create(path).create_group("train"); }
  File f = File::open(path);
  expect_data_error([&] { f.open_dataset("train/x"); }, {path, "/train/x", "missing dataset"});
  expect_data_error([&] { f.open_group("test"); }, {path, "/test", "missing group"});
  expect_data_error([&] { File::open(dir / "absent.h5"); }, {"absent.h5", "cannot open"});
  nsal::testing::write_text(dir / "text.h5", "this is not HDF5\n");
  expect_data_error([&] { File::open(dir / "text.h5"); }, {"text.h5", "not an HDF5 file"});
  EXPECT_FALSE(is_hdf5(dir / "text.h5"));
  EXPECT_TRUE(is_hdf5(path));
}

TEST(Hdf5, TruncatedFileIsAnErrorNotACrash) {
  TempDir dir;
  std::string path = dir / "t.h5";
  {
    File f = File::create(path);
    std::vector<float> v(20000, 1.f);
    f.create_dataset("x", Type::f32, {20000}).write(v.data(), Type::f32);
    f.set_string("task", "regression");
  }
  auto bytes = nsal::testing::read_bytes(path);
  bytes.resize(bytes.size() / 2);
  nsal::testing::write_bytes(dir / "cut.h5", bytes);
  try {
    File f = File::open(dir / "cut.h5");
    std::vector<float> v(20000);
    f.open_dataset("x").read(v.data(), Type::f32);
    ADD_FAILURE() << "reading a truncated file did not throw";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.h5"), std::string::npos) << e.what();
  }
}

TEST(Hdf5, Fletcher32DetectsACorruptChunk) {
  TempDir dir;
  std::string path = dir / "c.h5";
  std::vector<uint8_t> v(4096);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<uint8_t>((i * 7 + 3) % 251);
  {
    File f = File::create(path);
    f.create_dataset("x", Type::u8, {4096}, {4096, 0, true}).write(v.data(), Type::u8);
  }
  auto bytes = nsal::testing::read_bytes(path);
  auto it = std::search(bytes.begin(), bytes.end(), v.begin(), v.begin() + 64);
  ASSERT_NE(it, bytes.end());
  it[100] ^= 0x5a;
  nsal::testing::write_bytes(path, bytes);
  File f = File::open(path);
  expect_data_error([&] { f.open_dataset("x").read_all<uint8_t>(); }, {path, "/x", "cannot read"});
}

TEST(Hdf5, AtomicOutputAppearsOnlyOnCommitAndRespectsForce) {
  TempDir dir;
  std::string path = dir / "out.h5";
  {
    AtomicOutput out(path, false);
    File f = File::create(out.tmp_path());
    f.set_int("v", 1);
    f.close();
    EXPECT_FALSE(nsal::testing::file_exists(path));  // not committed: nothing there yet
  }
  EXPECT_FALSE(nsal::testing::file_exists(path));
  EXPECT_FALSE(nsal::testing::file_exists(path + ".tmp"));  // the temporary was removed
  {
    AtomicOutput out(path, false);
    File f = File::create(out.tmp_path());
    f.set_int("v", 2);
    f.close();
    out.commit();
  }
  EXPECT_EQ(File::open(path).get_int("v"), 2);
  expect_data_error([&] { AtomicOutput out(path, false); }, {path, "already exists", "--force"});
  {
    AtomicOutput out(path, true);
    File f = File::create(out.tmp_path());
    f.set_int("v", 3);
    f.close();
    out.commit();
  }
  EXPECT_EQ(File::open(path).get_int("v"), 3);
  EXPECT_FALSE(nsal::testing::file_exists(path + ".tmp"));
}

TEST(Hdf5, AtomicOutputNeverReplacesAFileCreatedMeanwhile) {
  TempDir dir;
  std::string path = dir / "race.h5";
  AtomicOutput out(path, false);
  File::create(out.tmp_path()).close();
  nsal::testing::write_text(path, "someone else's file");
  expect_data_error([&] { out.commit(); }, {path, "already exists"});
  EXPECT_EQ(nsal::testing::read_bytes(path).size(), 19u);
}

}  // namespace nsal::h5
