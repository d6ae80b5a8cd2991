#include <gtest/gtest.h>

#include "data/idx.h"
#include "tests/test_data_util.h"

namespace nsal::data {

using nsal::testing::error_of;
using nsal::testing::expect_has;
using nsal::testing::TempDir;

namespace {

std::vector<uint8_t> idx_bytes(uint8_t type, std::vector<uint32_t> dims,
                               const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8)
      b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

std::vector<uint8_t> images(uint32_t n, uint32_t h, uint32_t w) {
  std::vector<uint8_t> p(n * h * w);
  for (size_t i = 0; i < p.size(); ++i)
    p[i] = static_cast<uint8_t>(i * 13 % 256);
  return idx_bytes(0x08, {n, h, w}, p);
}

std::vector<uint8_t> labels(uint32_t n, int classes) {
  std::vector<uint8_t> p(n);
  for (uint32_t i = 0; i < n; ++i)
    p[i] = static_cast<uint8_t>(i % classes);
  return idx_bytes(0x08, {n}, p);
}

// A folder with the four standard files, train gzipped and test plain.
void make_idx_dir(const TempDir& dir, uint32_t n_train, uint32_t n_test) {
  nsal::testing::write_gzip(dir / "in/train-images-idx3-ubyte.gz", images(n_train, 4, 5));
  nsal::testing::write_gzip(dir / "in/train-labels-idx1-ubyte.gz", labels(n_train, 10));
  nsal::testing::write_bytes(dir / "in/t10k-images-idx3-ubyte", images(n_test, 4, 5));
  nsal::testing::write_bytes(dir / "in/t10k-labels-idx1-ubyte", labels(n_test, 10));
}

}  // namespace

TEST(DataIdx, ParsesEveryElementType) {
  auto ub = idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 255});
  Tensor u = parse_idx(ub.data(), ub.size(), "u");
  EXPECT_EQ(u.dtype(), DType::u8);
  EXPECT_EQ(u.shape(), (Shape{2, 3}));
  EXPECT_EQ(u.at(5), 255);
  auto s = idx_bytes(0x0B, {2}, {0xff, 0xfe, 0x01, 0x00});
  Tensor t = parse_idx(s.data(), s.size(), "s");
  EXPECT_EQ(t.dtype(), DType::i32);
  EXPECT_EQ(t.to_vector(), (std::vector<double>{-2, 256}));
  auto f = idx_bytes(0x0D, {1}, {0x3f, 0xc0, 0, 0});  // 1.5f big-endian
  EXPECT_EQ(parse_idx(f.data(), f.size(), "f").at(0), 1.5);
  auto sb = idx_bytes(0x09, {3}, {0x80, 0xff, 0x7f});  // signed bytes -128, -1, 127
  EXPECT_EQ(parse_idx(sb.data(), sb.size(), "sb").to_vector(),
            (std::vector<double>{-128, -1, 127}));
  auto i32 = idx_bytes(0x0C, {2}, {0xff, 0xff, 0xff, 0xfe, 0x00, 0x01, 0x00, 0x02});  // -2, 65538
  EXPECT_EQ(parse_idx(i32.data(), i32.size(), "i32").to_vector(), (std::vector<double>{-2, 65538}));
  auto f64 = idx_bytes(0x0E, {1}, {0xc0, 0x04, 0, 0, 0, 0, 0, 0});  // -2.5 big-endian
  EXPECT_EQ(parse_idx(f64.data(), f64.size(), "f64").at(0), -2.5);
  auto nan = idx_bytes(0x0D, {1, 1}, {0x7f, 0xc0, 0, 0});
  expect_has(error_of([&] { parse_idx(nan.data(), nan.size(), "nan.idx"); }),
             {"nan.idx", "NaN at sample 0"});
}

TEST(DataIdx, BadHeadersAndSizesNameTheFile) {
  std::vector<uint8_t> wrong = {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 9};
  expect_has(error_of([&] { parse_idx(wrong.data(), wrong.size(), "w.idx"); }),
             {"w.idx", "wrong magic number 0x12345678"});
  std::vector<uint8_t> tiny = {0, 0};
  expect_has(error_of([&] { parse_idx(tiny.data(), tiny.size(), "t.idx"); }),
             {"t.idx", "too short for an IDX header"});
  auto header = idx_bytes(0x08, {3, 4, 5}, {});
  header.resize(10);
  expect_has(error_of([&] { parse_idx(header.data(), header.size(), "h.idx"); }),
             {"h.idx", "truncated header"});
  auto cut = images(3, 4, 5);
  cut.resize(cut.size() - 10);
  expect_has(
      error_of([&] { parse_idx(cut.data(), cut.size(), "c.idx"); }),
      {"c.idx", "truncated", "needs 60 bytes of data, the file has 50", "2 samples complete"});
  auto extra = images(3, 4, 5);
  extra.push_back(0);
  expect_has(error_of([&] { parse_idx(extra.data(), extra.size(), "e.idx"); }),
             {"e.idx", "1 trailing bytes"});
  // A zero dimension makes the data empty but does not excuse absurd other dimensions (found by
  // the fuzzer: the strides overflowed).
  auto hidden = idx_bytes(0x08, {0, 0xffffffffu, 0xffffffffu, 0xffffu}, {});
  expect_has(error_of([&] { parse_idx(hidden.data(), hidden.size(), "z.idx"); }),
             {"z.idx", "implausibly large"});
  auto empty = idx_bytes(0x08, {0, 28, 28}, {});
  EXPECT_EQ(parse_idx(empty.data(), empty.size(), "ok.idx").shape(), (Shape{0, 28, 28}));
}

TEST(DataIdx, ConvertsGzippedAndPlainFiles) {
  TempDir dir;
  make_idx_dir(dir, 12, 6);
  IdxFiles files = find_idx_files(dir / "in");
  ConvertOptions o;
  o.output = dir / "out.h5";
  convert_idx(files, o, "fashion-mnist");
  Dataset tr = read_dataset(o.output, "train", [] {
    ReadOptions r;
    r.x_as_float = false;
    return r;
  }());
  EXPECT_EQ(tr.x.shape(), (Shape{12, 1, 4, 5}));
  Tensor raw = parse_idx(images(12, 4, 5).data(), 16 + 240, "ref");
  EXPECT_EQ(tr.x.to_vector(), raw.to_vector());
  EXPECT_EQ(tr.y.at(11), 1);
  EXPECT_EQ(tr.num_classes, 10);
  EXPECT_EQ(tr.class_names[9], "Ankle boot");
  EXPECT_NE(tr.source_sha256.find("train-images-idx3-ubyte.gz"), std::string::npos);
  Dataset te = read_dataset(o.output, "test");
  EXPECT_EQ(te.size(), 6);
  // No overwrite without force; with force it is replaced.
  expect_has(error_of([&] { convert_idx(files, o, ""); }), {"already exists", "--force"});
  o.force = true;
  EXPECT_NO_THROW(convert_idx(files, o, ""));
  // A plain and a gzipped copy of the same file: which one is meant is not guessed.
  nsal::testing::write_bytes(dir / "in/train-images-idx3-ubyte", images(12, 4, 5));
  expect_has(error_of([&] { find_idx_files(dir / "in"); }),
             {"both train-images-idx3-ubyte and train-images-idx3-ubyte.gz"});
}

TEST(DataIdx, CountsLabelsAndTruncationAreChecked) {
  TempDir dir;
  make_idx_dir(dir, 12, 6);
  IdxFiles files = find_idx_files(dir / "in");
  ConvertOptions o;
  o.output = dir / "out.h5";
  // Labels and images disagree.
  nsal::testing::write_bytes(dir / "in/t10k-labels-idx1-ubyte", labels(5, 10));
  expect_has(error_of([&] { convert_idx(files, o, ""); }),
             {"t10k-images-idx3-ubyte holds 6 images", "t10k-labels-idx1-ubyte holds 5 labels",
              "counts disagree"});
  // A label past num_classes.
  auto l = labels(6, 10);
  l.back() = 12;
  nsal::testing::write_bytes(dir / "in/t10k-labels-idx1-ubyte", l);
  o.num_classes = 10;
  expect_has(error_of([&] { convert_idx(files, o, ""); }),
             {"t10k-labels-idx1-ubyte", "label 12 of sample 5 is outside [0, 10)"});
  // A truncated gzip.
  auto g = nsal::testing::read_bytes(dir / "in/train-images-idx3-ubyte.gz");
  g.resize(g.size() - 12);
  nsal::testing::write_bytes(dir / "in/train-images-idx3-ubyte.gz", g);
  expect_has(error_of([&] { convert_idx(files, o, ""); }),
             {"train-images-idx3-ubyte.gz", "truncated"});
  // Empty.
  make_idx_dir(dir, 0, 6);
  expect_has(error_of([&] { convert_idx(find_idx_files(dir / "in"), o, ""); }),
             {"train-images-idx3-ubyte.gz", "empty dataset"});
  // None of it left an output behind.
  EXPECT_FALSE(nsal::testing::file_exists(o.output));
  EXPECT_FALSE(nsal::testing::file_exists(o.output + ".tmp"));
  expect_has(error_of([&] { find_idx_files(dir / "nowhere"); }),
             {"no train-images-idx3-ubyte or train-images-idx3-ubyte.gz"});
}

}  // namespace nsal::data
