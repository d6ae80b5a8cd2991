// nsal report: the metrics.csv reader and its errors, the per-strategy statistics, tick steps,
// the markdown summary, and the figures written (read back with cairo).
#include <cairo.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "al/report.h"
#include "al/report_metrics.h"
#include "al/report_plot.h"
#include "al/report_summary.h"
#include "kernels/error.h"
#include "tests/layer_test_util.h"
#include "tests/test_data_util.h"

namespace nsal::al {
namespace {

using nsal::testing::expect_error_mentions;
using nsal::testing::TempDir;

const char* kHeader =
    "trial,strategy,cycle,labelled,metric,value,train_seconds,acquisition_seconds,seed\n";

// Two strategies: random with two trials at 100/200/300 labelled, entropy with one trial at
// 100/150/200 (its own x positions).
const char* kRows =
    "0,random,0,100,accuracy,0.50,2.0,0.10,7\n"
    "0,random,1,200,accuracy,0.60,3.0,0.20,7\n"
    "0,random,2,300,accuracy,0.70,4.0,0,7\n"
    "1,random,0,100,accuracy,0.40,2.0,0.30,8\n"
    "1,random,1,200,accuracy,0.70,3.0,0.40,8\n"
    "1,random,2,300,accuracy,0.75,4.0,0,8\n"
    "0,entropy,0,100,accuracy,0.55,2.5,1.0,7\n"
    "0,entropy,1,150,accuracy,0.65,3.5,2.0,7\n"
    "0,entropy,2,200,accuracy,0.80,4.5,0,7\n";

std::string table() {
  return std::string(kHeader) + kRows;
}

std::string error_of(const std::string& text) {
  try {
    parse_metrics_csv(text, "runs/a/metrics.csv");
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ReportMetrics, ParsesHandWrittenTable) {
  std::vector<MetricRow> rows = parse_metrics_csv(table(), "m.csv", 3);
  ASSERT_EQ(rows.size(), 9u);
  const MetricRow& r = rows[4];
  EXPECT_EQ(r.trial, 1);
  EXPECT_EQ(r.strategy, "random");
  EXPECT_EQ(r.cycle, 1);
  EXPECT_EQ(r.labelled, 200);
  EXPECT_EQ(r.metric, "accuracy");
  EXPECT_DOUBLE_EQ(r.value, 0.70);
  EXPECT_DOUBLE_EQ(r.train_seconds, 3.0);
  EXPECT_DOUBLE_EQ(r.acquisition_seconds, 0.40);
  EXPECT_EQ(r.seed, 8u);
  EXPECT_EQ(r.source, 3);
  EXPECT_EQ(r.line, 6);  // header is line 1
}

TEST(ReportMetrics, ColumnsInAnyOrderExtraColumnsAndCrlf) {
  std::string text =
      "seed,note,value,metric,labelled,cycle,strategy,trial,acquisition_seconds,train_seconds\r\n"
      "18446744073709551615,\"a, b\",12.5,MAE,40,0,\"noise-stability(paper)\",2,0.5,1e-3\r\n";
  std::vector<MetricRow> rows = parse_metrics_csv(text, "m.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].seed, 18446744073709551615ull);
  EXPECT_EQ(rows[0].strategy, "noise-stability(paper)");
  EXPECT_EQ(rows[0].trial, 2);
  EXPECT_DOUBLE_EQ(rows[0].value, 12.5);
  EXPECT_DOUBLE_EQ(rows[0].train_seconds, 1e-3);
}

TEST(ReportMetrics, MalformedTablesNameFileAndLine) {
  const std::string h = kHeader;
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos;
  };
  std::string e = error_of("trial,strategy,cycle,labelled,metric,value\n0,random,0,1,accuracy,1\n");
  EXPECT_TRUE(has(e, "runs/a/metrics.csv: line 1")) << e;
  EXPECT_TRUE(has(e, "train_seconds, acquisition_seconds, seed")) << e;

  e = error_of(h + "0,random,0,100,accuracy,0.5,1,1,0\n0,random,1,200,accuracy,0.6,1,1\n");
  EXPECT_TRUE(has(e, "runs/a/metrics.csv: line 3")) << e;
  EXPECT_TRUE(has(e, "8 fields")) << e;

  e = error_of(h + "0,random,0,100,accuracy,0.5,1,1,0\n\n0,random,1,200,accuracy,high,1,1,0\n");
  EXPECT_TRUE(has(e, "line 4")) << e;
  EXPECT_TRUE(has(e, "'value'")) << e;
  EXPECT_TRUE(has(e, "'high' is not a number")) << e;

  e = error_of(h + "0,random,zero,100,accuracy,0.5,1,1,0\n");
  EXPECT_TRUE(has(e, "line 2: column 'cycle'")) << e;
  e = error_of(h + "0,random,0,100,accuracy,0.5,1,1,0\n0,random,1,200,accuracy,1.5,1,1,0\n");
  EXPECT_TRUE(has(e, "line 3: accuracy 1.5 is outside [0, 1]")) << e;
  e = error_of(h + "0,random,0,100,mIoU,nan,1,1,0\n");
  EXPECT_TRUE(has(e, "line 2: column 'value': nan is not finite")) << e;
  e = error_of(h + "0,random,0,100,accuracy,0.5,-1,1,0\n");
  EXPECT_TRUE(has(e, "line 2: column 'train_seconds'")) << e;
  e = error_of(h + "0,random,0,0,accuracy,0.5,1,1,0\n");
  EXPECT_TRUE(has(e, "line 2: column 'labelled'")) << e;
  e = error_of(h + "0,,0,100,accuracy,0.5,1,1,0\n");
  EXPECT_TRUE(has(e, "line 2: column 'strategy' is empty")) << e;
  e = error_of(h + "0,random,0,100,accuracy,0.5,1,1,0\n0,random,0,100,accuracy,0.6,1,1,0\n");
  EXPECT_TRUE(has(e, "line 3: a second row for trial 0, strategy 'random', cycle 0")) << e;
  EXPECT_TRUE(has(e, "first on line 2")) << e;
  // A header alone is a run without a finished cycle: no rows, no error (make_report warns).
  EXPECT_TRUE(parse_metrics_csv(h, "runs/a/metrics.csv").empty());
  e = error_of("");
  EXPECT_TRUE(has(e, "runs/a/metrics.csv")) << e;
  EXPECT_TRUE(has(e, "empty")) << e;
}

TEST(ReportMetrics, MissingFileNamesIt) {
  TempDir dir;
  try {
    read_metrics_csv(dir / "nope/metrics.csv");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("nope/metrics.csv"), std::string::npos) << e.what();
  }
}

const StrategyCurve& curve(const Summary& s, const std::string& name) {
  for (const StrategyCurve& c : s.curves)
    if (c.strategy == name) return c;
  throw std::runtime_error("no curve " + name);
}

TEST(ReportSummary, MeanMinMaxPerStrategyAndLabelledCount) {
  Summary s = summarize(parse_metrics_csv(table(), "m.csv"));
  EXPECT_EQ(s.metric, "accuracy");
  ASSERT_EQ(s.curves.size(), 2u);
  EXPECT_EQ(s.curves[0].strategy, "random");  // order of first appearance

  const StrategyCurve& r = curve(s, "random");
  EXPECT_EQ(r.trials, 2);
  ASSERT_EQ(r.points.size(), 3u);
  const double want[3][4] = {
      {100, 0.45, 0.40, 0.50}, {200, 0.65, 0.60, 0.70}, {300, 0.725, 0.70, 0.75}};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.points[i].labelled, want[i][0]);
    EXPECT_EQ(r.points[i].trials, 2);
    EXPECT_NEAR(r.points[i].mean, want[i][1], 1e-12);
    EXPECT_DOUBLE_EQ(r.points[i].min, want[i][2]);
    EXPECT_DOUBLE_EQ(r.points[i].max, want[i][3]);
  }
  EXPECT_NEAR(r.auc, (0.45 + 0.65 + 0.725) / 3, 1e-12);
  EXPECT_NEAR(r.auc_min, 0.6, 1e-12);
  EXPECT_NEAR(r.auc_max, (0.4 + 0.7 + 0.75) / 3, 1e-12);
  EXPECT_EQ(r.acquisitions, 4);  // the last cycle of each trial acquires nothing
  EXPECT_NEAR(r.acquisition_seconds, 0.25, 1e-12);
  EXPECT_NEAR(r.train_seconds, 3.0, 1e-12);

  const StrategyCurve& e = curve(s, "entropy");
  EXPECT_EQ(e.trials, 1);
  ASSERT_EQ(e.points.size(), 3u);
  EXPECT_EQ(e.points[1].labelled, 150);
  EXPECT_DOUBLE_EQ(e.points[1].mean, 0.65);
  EXPECT_EQ(e.acquisitions, 2);
  EXPECT_NEAR(e.acquisition_seconds, 1.5, 1e-12);

  std::vector<size_t> rank = rank_strategies(s);
  EXPECT_EQ(s.curves[rank[0]].strategy, "entropy");  // area 0.667 > 0.608
}

TEST(ReportSummary, TablesFromSeveralRunsPoolAsSeparateTrials) {
  std::string a =
      std::string(kHeader) + "0,margin,0,10,MAE,0.30,1,0.5,1\n0,margin,1,20,MAE,0.20,1,0,1\n";
  std::string b = std::string(kHeader) +
                  "0,margin,0,10,MAE,0.50,1,0.7,2\n0,margin,1,20,MAE,0.10,1,0,2\n" +
                  "0,random,0,10,MAE,0.40,1,0.1,2\n0,random,1,20,MAE,0.35,1,0,2\n";
  std::vector<MetricRow> rows = parse_metrics_csv(a, "a.csv", 0);
  std::vector<MetricRow> more = parse_metrics_csv(b, "b.csv", 1);
  rows.insert(rows.end(), more.begin(), more.end());
  Summary s = summarize(rows);
  const StrategyCurve& m = curve(s, "margin");
  EXPECT_EQ(m.trials, 2);  // trial 0 of a and trial 0 of b
  EXPECT_DOUBLE_EQ(m.points[0].mean, 0.4);
  EXPECT_DOUBLE_EQ(m.points[0].min, 0.3);
  EXPECT_DOUBLE_EQ(m.points[1].max, 0.2);
  EXPECT_EQ(curve(s, "random").trials, 1);
  // MAE: lower is better, so margin (area 0.275) ranks above random (0.375).
  EXPECT_EQ(s.curves[rank_strategies(s)[0]].strategy, "margin");
}

TEST(ReportSummary, MetricChoice) {
  std::string text = std::string(kHeader) + "0,random,0,10,accuracy,0.5,1,1,0\n" +
                     "1,random,0,10,mIoU,0.25,1,1,0\n";
  std::vector<MetricRow> rows = parse_metrics_csv(text, "m.csv");
  try {
    summarize(rows);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("several metrics (accuracy, mIoU)"), std::string::npos)
        << e.what();
  }
  Summary s = summarize(rows, "mIoU");
  ASSERT_EQ(s.curves.size(), 1u);
  EXPECT_DOUBLE_EQ(s.curves[0].points[0].mean, 0.25);
  EXPECT_THROW(summarize(rows, "MAE"), DataError);
}

TEST(ReportSummary, MarkdownTables) {
  Summary s = summarize(parse_metrics_csv(table(), "m.csv"));
  std::string md = summary_markdown(s, {"Test title", {"runs/a"}, {}});
  auto has = [&](const std::string& part) { return md.find(part) != std::string::npos; };
  EXPECT_TRUE(has("# Test title\n")) << md;
  EXPECT_TRUE(has("| labelled | random (2 trials) | entropy (1 trial) |")) << md;
  EXPECT_TRUE(has("| 100 | 45.00 (40.00-50.00) | 55.00 |")) << md;
  EXPECT_TRUE(has("| 150 | - | 65.00 |")) << md;
  EXPECT_TRUE(has("| 300 | 72.50 (70.00-75.00) | - |")) << md;
  EXPECT_TRUE(has("| 1 | entropy | 1 | 3 | 66.67 |")) << md;
  EXPECT_TRUE(has("| 2 | random | 2 | 3 | 60.83 (60.00-61.67) |")) << md;
  EXPECT_TRUE(has("| random | 4 | 0.25 | 3.00 |")) << md;
  EXPECT_TRUE(has("| entropy | 2 | 1.50 | 3.50 |")) << md;
}

TEST(ReportSummary, FewerTrialsAtAPointAreMarked) {
  std::string text = std::string(kHeader) + "0,random,0,10,accuracy,0.5,1,1,0\n" +
                     "0,random,1,20,accuracy,0.6,1,0,0\n1,random,0,10,accuracy,0.7,1,1,0\n";
  Summary s = summarize(parse_metrics_csv(text, "m.csv"));
  std::string md = summary_markdown(s, {"t", {}, {}});
  EXPECT_NE(md.find("| 20 | 60.00 (60.00-60.00, n=1) |"), std::string::npos) << md;
}

TEST(ReportPlot, NiceTickSteps) {
  EXPECT_DOUBLE_EQ(nice_step(1234, 6), 200);
  EXPECT_DOUBLE_EQ(nice_step(1, 6), 0.2);
  EXPECT_DOUBLE_EQ(nice_step(35, 6), 5);
  EXPECT_DOUBLE_EQ(nice_step(100, 6), 20);
  EXPECT_NEAR(nice_step(0.003, 6), 0.0005, 1e-18);
  EXPECT_DOUBLE_EQ(nice_step(9000, 6), 2000);
  expect_error_mentions([&] { nice_step(0, 6); }, {"nice_step", "positive finite range"});

  AxisTicks t = nice_ticks(0, 1234, 6, true);
  EXPECT_DOUBLE_EQ(t.step, 200);
  EXPECT_DOUBLE_EQ(t.lo, 0);
  EXPECT_DOUBLE_EQ(t.hi, 1400);
  ASSERT_EQ(t.values.size(), 8u);
  EXPECT_DOUBLE_EQ(t.values[7], 1400);

  t = nice_ticks(61.3, 94.2, 6, true);
  EXPECT_DOUBLE_EQ(t.step, 5);
  EXPECT_DOUBLE_EQ(t.lo, 60);
  EXPECT_DOUBLE_EQ(t.hi, 95);

  t = nice_ticks(37, 1234, 6, false);  // ticks inside the range only
  EXPECT_DOUBLE_EQ(t.lo, 37);
  EXPECT_DOUBLE_EQ(t.values.front(), 200);
  EXPECT_DOUBLE_EQ(t.values.back(), 1200);

  t = nice_ticks(50, 50, 6, true);  // one value: widened
  EXPECT_LT(t.lo, 50);
  EXPECT_GT(t.hi, 50);

  EXPECT_EQ(tick_label(0.1 + 0.2, 0.1), "0.3");
  EXPECT_EQ(tick_label(1400, 200), "1400");
  EXPECT_EQ(tick_label(-1e-17, 0.2), "0.0");
  EXPECT_EQ(tick_label(0.0015, 0.0005), "0.0015");
}

// Pixels of the PNG within `tol` of colour `rgb` (0xRRGGBB).
int count_colour(cairo_surface_t* img, unsigned rgb, int tol = 12) {
  const int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
  const int stride = cairo_image_surface_get_stride(img);
  const unsigned char* d = cairo_image_surface_get_data(img);
  int n = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint32_t p;
      std::memcpy(&p, d + y * stride + 4 * x, 4);  // native-endian ARGB32
      const int dr = static_cast<int>((p >> 16) & 255) - static_cast<int>((rgb >> 16) & 255);
      const int dg = static_cast<int>((p >> 8) & 255) - static_cast<int>((rgb >> 8) & 255);
      const int db = static_cast<int>(p & 255) - static_cast<int>(rgb & 255);
      n += std::abs(dr) <= tol && std::abs(dg) <= tol && std::abs(db) <= tol;
    }
  return n;
}

TEST(Report, WritesFiguresAndSummary) {
  TempDir dir;
  nsal::testing::write_text(dir / "run/metrics.csv", table());
  nsal::testing::write_text(dir / "run/config.toml",
                            "dataset = \"data/fashion-mnist.h5\"\nmodel = \"mnist-cnn\"\n");
  ReportOptions o;
  o.runs = {dir / "run"};
  ReportResult r = make_report(o);
  EXPECT_TRUE(r.warnings.empty());
  ASSERT_EQ(r.files.size(), 3u);
  const std::filesystem::path out = dir.path() / "run" / "report";  // the default
  EXPECT_EQ(r.files[0], (out / "learning_curves.png").string());
  EXPECT_EQ(r.files[1], (out / "learning_curves.svg").string());
  EXPECT_EQ(r.files[2], (out / "summary.md").string());
  for (const std::string& f : r.files)
    EXPECT_GT(std::filesystem::file_size(f), 100u) << f;
  EXPECT_FALSE(std::filesystem::exists(r.files[0] + ".tmp"));

  std::vector<uint8_t> md = nsal::testing::read_bytes(r.files[2]);
  EXPECT_EQ(std::string(md.begin(), md.end()), r.markdown);
  EXPECT_EQ(r.markdown.rfind("# fashion-mnist, mnist-cnn: 1-2 trials\n", 0), 0u) << r.markdown;

  std::vector<uint8_t> svg = nsal::testing::read_bytes(r.files[1]);
  std::string svg_text(svg.begin(), svg.end());
  EXPECT_NE(svg_text.find("<svg"), std::string::npos);
  EXPECT_NE(svg_text.find("width=\"900\""), std::string::npos);

  cairo_surface_t* img = cairo_image_surface_create_from_png(r.files[0].c_str());
  ASSERT_EQ(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
  EXPECT_EQ(cairo_image_surface_get_width(img), 900);
  EXPECT_EQ(cairo_image_surface_get_height(img), 600);
  // Both strategies' lines are drawn in their colours (a line of ~700 px at 2 px width).
  EXPECT_GT(count_colour(img, strategy_colour(0)), 500);
  EXPECT_GT(count_colour(img, strategy_colour(1)), 500);
  EXPECT_EQ(count_colour(img, strategy_colour(2), 2), 0);  // no third strategy
  cairo_surface_destroy(img);

  // Another size, an explicit output folder and title.
  o.out_dir = dir / "elsewhere";
  o.title = "Custom";
  o.width = 450;
  o.height = 300;
  r = make_report(o);
  img = cairo_image_surface_create_from_png(r.files[0].c_str());
  EXPECT_EQ(cairo_image_surface_get_width(img), 450);
  EXPECT_EQ(cairo_image_surface_get_height(img), 300);
  cairo_surface_destroy(img);
  EXPECT_EQ(r.markdown.rfind("# Custom\n", 0), 0u);
}

TEST(Report, BadRunsAreClearErrors) {
  TempDir dir;
  nsal::testing::write_text(dir / "run/metrics.csv", table());
  std::filesystem::create_directories(dir / "empty");
  ReportOptions o;
  o.runs = {dir / "empty"};
  try {
    make_report(o);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no metrics.csv"), std::string::npos) << e.what();
  }
  o.runs = {dir / "run", dir / "run/metrics.csv"};  // the same table twice
  try {
    make_report(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("given twice"), std::string::npos) << e.what();
  }
  // A config.toml that is not TOML: a warning, the report is still written.
  nsal::testing::write_text(dir / "run/config.toml", "dataset = [unclosed\n");
  o.runs = {dir / "run"};
  ReportResult r = make_report(o);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("config.toml"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.markdown.rfind("# Learning curves: 1-2 trials\n", 0), 0u) << r.markdown;
}

// Several runs: one without a finished cycle is left out with a warning; --metric takes any
// case; the title and run list name only the runs that hold the metric; a title is one line.
TEST(Report, RunsWithoutRowsOrWithOtherMetricsAreLeftOut) {
  TempDir dir;
  nsal::testing::write_text(dir / "acc/metrics.csv", table());
  nsal::testing::write_text(dir / "acc/config.toml",
                            "dataset = \"img.h5\"\nmodel = \"mnist-cnn\"\n");
  nsal::testing::write_text(dir / "mae/metrics.csv",
                            std::string(kHeader) + "0,random,0,10,MAE,1.5,1,0,1\n");
  nsal::testing::write_text(dir / "mae/config.toml", "dataset = \"reg.h5\"\nmodel = \"mlp\"\n");
  nsal::testing::write_text(dir / "new/metrics.csv", kHeader);
  ReportOptions o;
  o.runs = {dir / "acc", dir / "mae", dir / "new"};
  o.out_dir = dir / "out";
  o.metric = "mae";
  ReportResult r = make_report(o);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("no rows yet"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.summary.metric, "MAE");
  EXPECT_EQ(r.markdown.rfind("# reg, mlp: 1 trial\n", 0), 0u) << r.markdown;
  EXPECT_EQ(r.markdown.find("acc`"), std::string::npos) << r.markdown;
  o.title = "two\nlines";
  r = make_report(o);
  EXPECT_EQ(r.markdown.rfind("# two lines\n", 0), 0u) << r.markdown;
  o.runs = {dir / "new"};
  EXPECT_THROW(make_report(o), DataError);  // nothing at all to report
  // Runs of two models pooled into one curve per strategy: said in a warning.
  nsal::testing::write_text(dir / "acc2/metrics.csv", table());
  nsal::testing::write_text(dir / "acc2/config.toml",
                            "dataset = \"img.h5\"\nmodel = \"resnet18-cifar\"\n");
  o.runs = {dir / "acc", dir / "acc2"};
  o.metric = "";
  o.title = "";
  r = make_report(o);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("differ in model (mnist-cnn, resnet18-cifar)"), std::string::npos)
      << r.warnings[0];
}

}  // namespace
}  // namespace nsal::al
