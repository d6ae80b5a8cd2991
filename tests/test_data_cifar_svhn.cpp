#include <gtest/gtest.h>

#include <matio.h>
#include <cstring>

#include <functional>

#include "data/cifar.h"
#include "data/svhn.h"
#include "tests/test_data_util.h"

namespace nsal::data {

using nsal::testing::error_of;
using nsal::testing::expect_has;
using nsal::testing::TempDir;

namespace {

// n records; pixel bytes depend on (record, position); labels from `label`.
std::vector<uint8_t> cifar_records(int n, int label_bytes, const std::function<int(int)>& label) {
  std::vector<uint8_t> b;
  for (int i = 0; i < n; ++i) {
    if (label_bytes == 2) b.push_back(static_cast<uint8_t>(label(i) % 20));  // coarse
    b.push_back(static_cast<uint8_t>(label(i)));
    for (int p = 0; p < 3072; ++p)
      b.push_back(static_cast<uint8_t>((i * 3 + p * 7) % 256));
  }
  return b;
}

ReadOptions bytes() {
  ReadOptions r;
  r.x_as_float = false;
  return r;
}

}  // namespace

TEST(DataCifar, Cifar10BatchesConvertWithTheirClassNames) {
  TempDir dir;
  for (int b = 1; b <= 5; ++b)
    nsal::testing::write_bytes(dir / ("c10/data_batch_" + std::to_string(b) + ".bin"),
                               cifar_records(3, 1, [&](int i) { return (b + i) % 10; }));
  nsal::testing::write_bytes(dir / "c10/test_batch.bin",
                             cifar_records(4, 1, [](int i) { return i; }));
  nsal::testing::write_text(dir / "c10/batches.meta.txt",
                            "plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  ConvertOptions o;
  o.output = dir / "c10.h5";
  convert_cifar(dir / "c10", CifarKind::cifar10, false, o);
  Dataset tr = read_dataset(o.output, "train", bytes());
  EXPECT_EQ(tr.x.shape(), (Shape{15, 3, 32, 32}));
  EXPECT_EQ(tr.class_names[1], "car");
  EXPECT_EQ(tr.y.at(0), 1);   // batch 1, record 0
  EXPECT_EQ(tr.y.at(14), 7);  // batch 5, record 2
  // Record 1 of batch 1: pixel p of plane c is byte (1 * 3 + (c * 1024 + p) * 7) % 256.
  EXPECT_EQ(tr.x.at(3072 + 1024 + 5), (3 + (1024 + 5) * 7) % 256);
  EXPECT_EQ(read_dataset(o.output, "test").size(), 4);
}

TEST(DataCifar, Cifar100FineOrCoarseLabels) {
  TempDir dir;
  nsal::testing::write_bytes(dir / "c100/train.bin",
                             cifar_records(5, 2, [](int i) { return 95 + i; }));
  nsal::testing::write_bytes(dir / "c100/test.bin",
                             cifar_records(2, 2, [](int i) { return 40 + i; }));
  ConvertOptions o;
  o.output = dir / "fine.h5";
  convert_cifar(dir / "c100", CifarKind::cifar100, false, o);
  Dataset f = read_dataset(o.output, "train");
  EXPECT_EQ(f.num_classes, 100);
  EXPECT_EQ(f.y.at(4), 99);
  o.output = dir / "coarse.h5";
  convert_cifar(dir / "c100", CifarKind::cifar100, true, o);
  Dataset c = read_dataset(o.output, "train");
  EXPECT_EQ(c.num_classes, 20);
  EXPECT_EQ(c.y.at(4), 99 % 20);
}

TEST(DataCifar, CutRecordsAndBadLabelsNameTheFile) {
  Dataset d;
  auto b = cifar_records(3, 1, [](int i) { return i; });
  b.resize(b.size() - 100);
  expect_has(
      error_of([&] { parse_cifar(b.data(), b.size(), CifarKind::cifar10, false, "x.bin", d); }),
      {"x.bin", "not a whole number of 3073-byte CIFAR-10 records", "after 2973 bytes"});
  auto l = cifar_records(3, 1, [](int i) { return i == 2 ? 10 : 0; });
  expect_has(
      error_of([&] { parse_cifar(l.data(), l.size(), CifarKind::cifar10, false, "l.bin", d); }),
      {"l.bin", "record 2 has label 10, outside [0, 10)"});
  expect_has(error_of([&] { parse_cifar(nullptr, 0, CifarKind::cifar10, false, "e.bin", d); }),
             {"e.bin", "empty file"});
  TempDir dir;
  expect_has(error_of([&] {
               ConvertOptions o;
               o.output = dir / "o.h5";
               convert_cifar(dir / "nothing", CifarKind::cifar10, false, o);
             }),
             {"data_batch_1.bin: missing"});
}

// Writes an SVHN-like .mat file: X uint8 (32, 32, 3, n) column-major, y double (n, 1).
static void write_svhn_mat(const std::string& path, int n, const std::vector<double>& labels) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  ASSERT_NE(mat, nullptr);
  std::vector<uint8_t> x(static_cast<size_t>(n) * 3072);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<uint8_t>(i % 251);
  size_t xd[4] = {32, 32, 3, static_cast<size_t>(n)};
  matvar_t* vx = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, xd, x.data(), 0);
  Mat_VarWrite(mat, vx, MAT_COMPRESSION_NONE);
  Mat_VarFree(vx);
  std::vector<double> y = labels;
  size_t yd[2] = {y.size(), 1};
  matvar_t* vy = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd, y.data(), 0);
  Mat_VarWrite(mat, vy, MAT_COMPRESSION_NONE);
  Mat_VarFree(vy);
  Mat_Close(mat);
}

TEST(DataSvhn, MatFilesConvertWithLabel10AsDigit0) {
  TempDir dir;
  write_svhn_mat(dir / "train_32x32.mat", 3, {10, 1, 9});
  write_svhn_mat(dir / "test_32x32.mat", 2, {2, 10});
  ConvertOptions o;
  o.output = dir / "svhn.h5";
  convert_svhn(dir.path().string(), o);
  Dataset tr = read_dataset(o.output, "train", bytes());
  EXPECT_EQ(tr.y.to_vector(), (std::vector<double>{0, 1, 9}));
  EXPECT_EQ(tr.x.shape(), (Shape{3, 3, 32, 32}));
  // Element (n=1, c=2, h=5, w=7) comes from column-major index h + 32 * (w + 32 * (c + 3 * n)).
  size_t src = 5 + 32 * (7 + 32 * (2 + 3 * 1));
  EXPECT_EQ(tr.x.at(((1 * 3 + 2) * 32 + 5) * 32 + 7), src % 251);
}

// A .mat file whose sizes claim more than it holds is refused before libmatio allocates them.
TEST(DataSvhn, MatSizesBeyondTheFileAreRefused) {
  TempDir dir;
  write_svhn_mat(dir / "good.mat", 2, {1, 2});
  std::string bytes = nsal::testing::read_text(dir / "good.mat");
  auto patch = [&](const std::string& name, size_t at, int32_t value) {
    std::string b = bytes;
    std::memcpy(&b[at], &value, 4);
    nsal::testing::write_text(dir / name, b);
  };
  // X is the first element (byte 128): its tag's byte count, then inside it the array flags
  // (16 bytes) and the dimensions' tag (8 bytes) before the four dimensions.
  patch("long.mat", 132, 0x7fffffff);
  expect_has(error_of([&] { load_svhn_mat(dir / "long.mat"); }),
             {"long.mat", "corrupt .mat file", "byte 128", "declares 2147483647 bytes"});
  patch("dims.mat", 128 + 8 + 16 + 8 + 12, 0x7fffffff);
  expect_has(error_of([&] { load_svhn_mat(dir / "dims.mat"); }),
             {"dims.mat", "corrupt .mat file", "elements in"});
}

// Cells and structs: libmatio allocates a pointer per cell or field value before reading them,
// so their element counts are bounded by the 8-byte tag each one needs.
TEST(DataSvhn, MatCellAndStructCountsBeyondTheElementAreRefused) {
  TempDir dir;
  write_svhn_mat(dir / "good.mat", 2, {1, 2});
  std::string cell = nsal::testing::read_text(dir / "good.mat");
  cell[128 + 8 + 8] = 1;  // X's class byte: mxCELL_CLASS; 6144 "cells" in about 6 KB
  nsal::testing::write_text(dir / "cell.mat", cell);
  expect_has(error_of([&] { load_svhn_mat(dir / "cell.mat"); }),
             {"cell.mat", "corrupt .mat file", "byte 128", "declares 6144 cells in"});

  const std::string path = dir / "struct.mat";
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  ASSERT_NE(mat, nullptr);
  size_t dims[2] = {1, 1}, one[2] = {1, 1};
  const char* fields[2] = {"a", "b"};
  matvar_t* st = Mat_VarCreateStruct("s", 2, dims, fields, 2);
  double va = 1, vb = 2;
  Mat_VarSetStructFieldByName(st, "a", 0,
                              Mat_VarCreate(nullptr, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, one, &va, 0));
  Mat_VarSetStructFieldByName(st, "b", 0,
                              Mat_VarCreate(nullptr, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, one, &vb, 0));
  Mat_VarWrite(mat, st, MAT_COMPRESSION_NONE);
  Mat_VarFree(st);
  Mat_Close(mat);
  std::string b = nsal::testing::read_text(path);
  const int32_t huge = 0x10000000;
  std::memcpy(&b[128 + 8 + 16 + 8], &huge, 4);  // the struct's first dimension
  nsal::testing::write_text(dir / "struct.mat", b);
  expect_has(error_of([&] { load_svhn_mat(dir / "struct.mat"); }),
             {"struct.mat", "corrupt .mat file", "declares 268435456 elements of 2 fields"});
}

// An array's name: libmatio allocates the length its tag declares before reading it (fuzzing
// found a 1x1 double whose name claimed 3.4 GB).
TEST(DataSvhn, MatArrayNamesLongerThanTheElementAreRefused) {
  TempDir dir;
  write_svhn_mat(dir / "good.mat", 2, {1, 2});
  std::string b = nsal::testing::read_text(dir / "good.mat");
  // X's name 'X', a small element at byte 176 (after the tag, flags and 4 dimensions), becomes
  // a full tag of type miINT8 that claims 3,421,346,936 bytes.
  const uint32_t name_tag[2] = {1, 3421346936u};
  std::memcpy(&b[128 + 8 + 16 + 24], name_tag, 8);
  nsal::testing::write_text(dir / "name.mat", b);
  expect_has(error_of([&] { load_svhn_mat(dir / "name.mat"); }),
             {"name.mat", "corrupt .mat file", "byte 128",
              "sub-element of 3421346936 bytes past its end"});
}

TEST(DataSvhn, BadMatFilesNameTheFile) {
  TempDir dir;
  write_svhn_mat(dir / "bad_label.mat", 2, {3, 11});
  expect_has(error_of([&] { load_svhn_mat(dir / "bad_label.mat"); }),
             {"bad_label.mat", "y[1] = 11 is not a label in 1..10"});
  write_svhn_mat(dir / "count.mat", 3, {1, 2});
  expect_has(error_of([&] { load_svhn_mat(dir / "count.mat"); }),
             {"count.mat", "X holds 3 images but y holds 2 labels"});
  nsal::testing::write_text(dir / "text.mat", "not a mat file at all");
  expect_has(error_of([&] { load_svhn_mat(dir / "text.mat"); }), {"text.mat"});
  write_svhn_mat(dir / "cut.mat", 4, {1, 2, 3, 4});
  auto b = nsal::testing::read_bytes(dir / "cut.mat");
  b.resize(b.size() / 2);
  nsal::testing::write_bytes(dir / "cut.mat", b);
  expect_has(error_of([&] { load_svhn_mat(dir / "cut.mat"); }), {"cut.mat"});
}

}  // namespace nsal::data
