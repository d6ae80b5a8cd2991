// Human labels: parsing an annotator's file (every kind of bad line named), merging into the
// run's label store (no change of a stored label, re-imports idempotent), the store's round trip,
// and the annotation folder that `nsal query --export` and a human-oracle run write.
#include <gtest/gtest.h>

#include "al/annotation.h"
#include "al/atomic_file.h"
#include "al/labels.h"
#include "al/run_config.h"
#include "test_data_util.h"
#include "tests/layer_test_util.h"

namespace nsal::al {

namespace {

using nsal::testing::error_of;
using nsal::testing::expect_error_mentions;
using nsal::testing::expect_has;
using nsal::testing::TempDir;

LabelRules rules() {
  LabelRules r;
  r.num_samples = 100;
  r.num_classes = 3;
  r.class_names = {"cat", "dog", "bird"};
  r.requested = {3, 5, 8, 13};
  r.requested_from = "RUN/annotate";
  return r;
}

ParsedLabels parse(const std::string& text) {
  return parse_label_file(data::parse_csv(text.data(), text.size(), "l.csv"), "l.csv", rules());
}

}  // namespace

TEST(Labels, ParsesIdsNamesAndEmptyRows) {
  ParsedLabels p = parse("index,file,label\n3,3.png,2\n5,5.png, dog \n8,8.png,\n13,13.png,0\n");
  ASSERT_EQ(p.rows.size(), 3u);
  EXPECT_EQ(p.blank, 1);
  EXPECT_EQ(p.rows[0].index, 3);
  EXPECT_EQ(p.rows[0].label, 2);
  EXPECT_EQ(p.rows[1].index, 5);
  EXPECT_EQ(p.rows[1].label, 1);  // by name, spaces trimmed
  EXPECT_EQ(p.rows[1].line, 3);
  EXPECT_EQ(p.rows[2].index, 13);
  EXPECT_EQ(p.rows[2].label, 0);
  // Column order does not matter; other columns are ignored.
  ParsedLabels q = parse("label,note,index\nbird,x,8\n");
  ASSERT_EQ(q.rows.size(), 1u);
  EXPECT_EQ(q.rows[0].index, 8);
  EXPECT_EQ(q.rows[0].label, 2);
}

// Class folders named 1, 2, 3 are classes 0, 1, 2: a label "1" could mean id 1 or class 0, so
// it is refused; a number that names no other class is its id.
TEST(Labels, ANumberThatIsAlsoAnotherClassesNameIsRefused) {
  LabelRules r = rules();
  r.class_names = {"1", "2", "3"};
  auto parse_with = [&](const std::string& text) {
    return parse_label_file(data::parse_csv(text.data(), text.size(), "l.csv"), "l.csv", r);
  };
  expect_has(error_of([&] { parse_with("index,label\n3,1\n"); }),
             {"l.csv:2", "'1' is class id 1 but also the name of class 0"});
  EXPECT_EQ(parse_with("index,label\n3,0\n").rows[0].label, 0);
  r.class_names = {"0", "1", "2"};  // names equal to their ids: no doubt
  EXPECT_EQ(parse_with("index,label\n3,1\n").rows[0].label, 1);
}

TEST(Labels, BadLinesAreNamed) {
  expect_has(error_of([] { parse("idx,label\n3,1\n"); }), {"l.csv:1", "'index'"});
  expect_has(error_of([] { parse("index,file\n3,a\n"); }), {"l.csv:1", "'label'"});
  expect_has(error_of([] { parse("index,label\n3,1\n5\n"); }), {"l.csv", "line 3"});
  expect_has(error_of([] { parse("index,label\n3,1\nfive,1\n"); }),
             {"l.csv:3", "field 'index'", "'five'"});
  expect_has(error_of([] { parse("index,label\n-3,1\n"); }), {"l.csv:2", "out of range"});
  expect_has(error_of([] { parse("index,label\n100,1\n"); }), {"l.csv:2", "sample 100", "(0-99)"});
  expect_has(error_of([] { parse("index,label\n4,1\n"); }),
             {"l.csv:2", "sample 4", "not requested", "RUN/annotate"});
  expect_has(error_of([] { parse("index,label\n3,3\n"); }),
             {"l.csv:2", "field 'label'", "class 3", "3 classes (0-2)"});
  expect_has(error_of([] { parse("index,label\n3,-1\n"); }), {"l.csv:2", "out of range"});
  expect_has(error_of([] { parse("index,label\n3,horse\n"); }),
             {"l.csv:2", "'horse'", "class id", "class name"});
  expect_has(error_of([] { parse("index,label\n3,1.5\n"); }), {"l.csv:2", "'1.5'"});
  expect_has(error_of([] { parse("index,label\n3,1\n5,1\n3,1\n"); }),
             {"l.csv:4", "sample 3", "listed again", "line 2"});
  // A duplicate whose first row is still empty is a duplicate too.
  expect_has(error_of([] { parse("index,label\n3,\n3,1\n"); }), {"l.csv:3", "listed again"});
}

TEST(Labels, MergeAddsNewKeepsKnownAndRejectsChanges) {
  LabelMap store{{3, 2}};
  LabelMerge m = merge_labels(store, parse("index,label\n3,2\n5,0\n"), "l.csv", "RUN/labels.csv");
  EXPECT_EQ(m.added, 1);
  EXPECT_EQ(m.known, 1);
  EXPECT_EQ(m.labels, (LabelMap{{3, 2}, {5, 0}}));
  // Importing the merged file again changes nothing.
  LabelMerge again = merge_labels(m.labels, parse("index,label\n3,2\n5,0\n"), "l.csv", "S");
  EXPECT_EQ(again.added, 0);
  EXPECT_EQ(again.known, 2);
  EXPECT_EQ(again.labels, m.labels);
  expect_has(error_of([&] {
               merge_labels(store, parse("index,label\n5,0\n3,1\n"), "l.csv", "RUN/labels.csv");
             }),
             {"l.csv:3", "sample 3", "labelled 1 here but 2", "RUN/labels.csv"});
}

TEST(Labels, StoreRoundTripsAndRejectsDamage) {
  TempDir tmp;
  const std::string path = tmp / "labels.csv";
  EXPECT_TRUE(read_label_store(path).empty());  // not written yet
  LabelMap m{{0, 1}, {7, 0}, {123456, 9}};
  write_label_store(path, m);
  EXPECT_EQ(read_label_store(path), m);
  EXPECT_EQ(read_file(path), "index,label\n0,1\n7,0\n123456,9\n");
  write_file_atomic(path, "index,label\n1,2\n1,3\n");
  expect_has(error_of([&] { read_label_store(path); }), {path + ":3"});
  write_file_atomic(path, "index,label\n1,x\n");
  expect_has(error_of([&] { read_label_store(path); }), {path + ":2", "1,x"});
  write_file_atomic(path, "sample,label\n1,2\n");
  expect_has(error_of([&] { read_label_store(path); }), {path + ":1", "index,label"});
}

TEST(Labels, AnnotationFolderListsTheSamplesToLabel) {
  TempDir tmp;
  data::Dataset d;
  d.task = data::Task::classification;
  d.num_classes = 2;
  d.class_names = {"plain", "with, comma"};
  d.x = Tensor({4, 1, 2, 3}, DType::f32);  // (N, C, H, W)
  for (int64_t i = 0; i < d.x.numel(); ++i)
    d.x.data<float>()[i] = static_cast<float>(i % 6) / 5.0f;
  d.y = Tensor({4}, DType::i32);
  const std::string dir = tmp / "annotate";
  write_annotation_folder(d, {3, 1}, dir);
  EXPECT_EQ(read_file(dir + "/labels.csv"), "index,file,label\n3,3.png,\n1,1.png,\n");
  EXPECT_EQ(read_file(dir + "/classes.csv"), "id,name\n0,plain\n1,\"with, comma\"\n");
  EXPECT_EQ(read_indices(dir + "/requested.txt"), (std::vector<int64_t>{3, 1}));
  EXPECT_TRUE(file_exists(dir + "/3.png"));
  EXPECT_TRUE(file_exists(dir + "/1.png"));
  EXPECT_FALSE(file_exists(dir + "/0.png"));
  // The file it writes is one the importer reads, once filled in.
  const std::string filled = "index,file,label\n3,3.png,\"with, comma\"\n1,1.png,0\n";
  LabelRules r;
  r.num_samples = 4;
  r.num_classes = 2;
  r.class_names = d.class_names;
  r.requested = {1, 3};
  ParsedLabels p = parse_label_file(data::parse_csv(filled.data(), filled.size(), "f"), "f", r);
  ASSERT_EQ(p.rows.size(), 2u);
  EXPECT_EQ(p.rows[0].label, 1);
  EXPECT_EQ(p.rows[1].label, 0);
  try {
    write_annotation_folder(d, {4}, tmp / "other");
    ADD_FAILURE() << "no error for a sample out of range";
  } catch (const Error& e) {
    expect_has(e.what(), {"sample 4", "out of range"});
  }
}

TEST(Labels, HumanOracleRunsHaveOneTrialAndOneStrategy) {
  RunConfig c;
  c.oracle = "human";
  EXPECT_NO_THROW(validate(c));
  c.trials = 3;
  expect_error_mentions([&] { validate(c); }, {"trials", "one trial"});
  c.trials = 1;
  c.strategies.push_back(StrategyConfig{});
  c.strategies.back().name = "entropy";
  expect_error_mentions([&] { validate(c); }, {"strategy", "one strategy"});
  c.strategies.resize(1);
  c.oracle = "crowd";
  try {
    validate(c);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    expect_has(e.what(), {"field 'oracle'", "dataset or human", "crowd"});
  }
  c.oracle = "human";
  EXPECT_EQ(parse_run_config(to_toml(c), "t").oracle, "human");
}

}  // namespace nsal::al
