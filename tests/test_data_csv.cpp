#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "data/csv.h"
#include "tests/test_data_util.h"

namespace nsal::data {

using nsal::testing::error_of;
using nsal::testing::expect_has;
using nsal::testing::TempDir;

namespace {

CsvTable parse(const std::string& s, const std::string& name = "t.csv") {
  return parse_csv(s.data(), s.size(), name);
}

}  // namespace

TEST(DataCsv, ParsesQuotesNewlinesAndLineEndings) {
  CsvTable t = parse(
      "\xEF\xBB\xBF"
      "a,b,c\r\n"
      "1,\"x, y\",3\r\n"
      "\n"
      "4,\"say \"\"hi\"\"\nthere\",6\n"
      "7,,9");
  EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][1], "x, y");
  EXPECT_EQ(t.rows[1][1], "say \"hi\"\nthere");
  EXPECT_EQ(t.rows[2][1], "");
  EXPECT_EQ(t.lines, (std::vector<int64_t>{2, 4, 6}));
}

TEST(DataCsv, WrongFieldCountsAndBadQuotesNameTheLine) {
  expect_has(error_of([] { parse("a,b,c\n1,2,3\n4,5\n"); }),
             {"t.csv", "line 3", "2 fields, but the header has 3"});
  expect_has(error_of([] { parse("a,b\n1,2,3\n"); }), {"line 2", "3 fields"});
  expect_has(error_of([] { parse("a,b\n1,\"open\n2,3\n"); }),
             {"line 2", "unterminated quoted field"});
  expect_has(error_of([] { parse("a,b\n1,\"q\"x\n"); }),
             {"line 2", "text after the closing quote"});
  expect_has(error_of([] { parse(""); }), {"empty file"});
}

TEST(DataCsv, EncodesNumericCategoricalAndMissingValues) {
  CsvTable tr = parse(
      "Id,Area,Zone,Kind,Price\n"
      "1,100,RL,20,200\n"
      "2,NA,RM,30,300\n"
      "3,300,NA,20,400\n"
      "4,200,RL,20,500\n");
  CsvTable te = parse(
      "Id,Area,Zone,Kind,Price\n"
      "5,NA,FV,30,600\n");
  CsvOptions o;
  o.target = "Price";
  o.drop = {"Id"};
  o.categorical = {"Kind"};
  EncodedTable e = encode_csv(tr, "tr.csv", te, "te.csv", o);
  EXPECT_EQ(e.train.feature_names,
            (std::vector<std::string>{"Area", "Area:missing", "Zone=NA", "Zone=RL", "Zone=RM",
                                      "Kind=20", "Kind=30"}));
  ASSERT_EQ(e.train.x.shape(), (Shape{4, 7}));
  // Row 2: Area missing -> the training median 200 and the indicator.
  std::vector<double> all = e.train.x.to_vector();
  std::vector<double> row1(all.begin() + 7, all.begin() + 14);
  EXPECT_EQ(row1, (std::vector<double>{200, 1, 0, 0, 1, 0, 1}));
  std::vector<double> row2(all.begin() + 14, all.begin() + 21);
  EXPECT_EQ(row2, (std::vector<double>{300, 0, 1, 0, 0, 1, 0}));
  // Test: an unseen zone (FV) is all zeros.
  EXPECT_EQ(e.test.x.to_vector(), (std::vector<double>{200, 1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(e.train.y.to_vector(), (std::vector<double>{200, 300, 400, 500}));
  o.log_target = true;
  EXPECT_NEAR(encode_csv(tr, "tr", te, "te", o).test.y.at(0), std::log(600.0), 1e-5);
}

TEST(DataCsv, BadValuesNameTheFileLineAndColumn) {
  CsvOptions o;
  o.target = "y";
  CsvTable ok = parse("x,y\n1,2\n");
  expect_has(error_of([&] { encode_csv(parse("x,y\ninf,1\n2,3\n"), "a.csv", ok, "b.csv", o); }),
             {"a.csv", "line 2", "column 'x'", "non-finite value 'inf'"});
  expect_has(error_of([&] { encode_csv(ok, "a.csv", parse("x,y\n1,NA\n"), "b.csv", o); }),
             {"b.csv", "line 2", "the target 'y' is missing"});
  expect_has(error_of([&] { encode_csv(ok, "a.csv", parse("x,y\n1,abc\n"), "b.csv", o); }),
             {"b.csv", "line 2", "'abc', not a finite number"});
  expect_has(error_of([&] { encode_csv(ok, "a.csv", parse("x,y\nfoo,1\n"), "b.csv", o); }),
             {"b.csv", "column 'x'", "'foo' is not a finite number"});
  // Hexadecimal is text, not a number (strtod alone would read 0x1A as 26).
  expect_has(error_of([&] { encode_csv(ok, "a.csv", parse("x,y\n0x1A,1\n"), "b.csv", o); }),
             {"b.csv", "column 'x'", "'0x1A' is not a finite number"});
  expect_has(error_of([&] { encode_csv(ok, "a.csv", parse("x,y\n1,0x1p3\n"), "b.csv", o); }),
             {"b.csv", "line 2", "'0x1p3', not a finite number"});
  expect_has(error_of([&] { encode_csv(ok, "a.csv", parse("x,z\n1,1\n"), "b.csv", o); }),
             {"b.csv", "columns differ"});
  o.target = "price";
  expect_has(error_of([&] { encode_csv(ok, "a.csv", ok, "b.csv", o); }),
             {"a.csv", "no column named 'price'"});
  o.target = "y";
  expect_has(error_of([&] { encode_csv(parse("x,y\n"), "a.csv", ok, "b.csv", o); }),
             {"a.csv", "empty dataset"});
  const CsvTable twice = parse("x,y,x\n1,2,3\n");
  expect_has(error_of([&] { encode_csv(twice, "a.csv", twice, "b.csv", o); }),
             {"a.csv", "columns 1 and 3 are both named 'x'"});
}

TEST(DataCsv, ConvertSplitsRowsBySeed) {
  TempDir dir;
  std::string text = "id,x,c,y\n";
  for (int i = 0; i < 20; ++i)
    text += std::to_string(i) + "," + std::to_string(i * 0.5) + "," + (i % 3 ? "a" : "b") + "," +
            std::to_string(3 * i + 1) + "\n";
  nsal::testing::write_text(dir / "t.csv", text);
  CsvOptions c;
  c.target = "y";
  c.drop = {"id"};
  c.seed = 3;
  ConvertOptions o;
  o.output = dir / "t.h5";
  convert_csv(dir / "t.csv", c, o);
  Dataset tr = read_dataset(o.output, "train"), te = read_dataset(o.output, "test");
  EXPECT_EQ(tr.size(), 10);
  EXPECT_EQ(te.size(), 10);
  EXPECT_EQ(tr.task, Task::regression);
  EXPECT_EQ(tr.feature_names, (std::vector<std::string>{"x", "c=a", "c=b"}));
  // y = 6 x + 1 holds row by row after the split.
  for (int64_t i = 0; i < tr.size(); ++i)
    EXPECT_FLOAT_EQ(tr.y.at(i), 6 * tr.x.at(i * 3) + 1);
  ASSERT_EQ(tr.target_mean.size(), 1u);
  double sum = 0;
  for (int64_t i = 0; i < tr.size(); ++i)
    sum += tr.y.at(i);
  EXPECT_NEAR(tr.target_mean[0], sum / 10, 1e-4);
  // The same seed, the same split.
  o.output = dir / "t2.h5";
  convert_csv(dir / "t.csv", c, o);
  EXPECT_EQ(read_dataset(o.output, "test").y.to_vector(), te.y.to_vector());
}

}  // namespace nsal::data
