// `nsal report`: reads the metrics tables of one or more active-learning run directories, pools
// their rows by strategy, and writes learning-curve figures (PNG, SVG) and a markdown summary.
// docs/report.md describes the output.
#pragma once

#include <string>
#include <vector>

#include "al/report_summary.h"

namespace nsal::al {

struct ReportOptions {
  std::vector<std::string> runs;  // run directories (or their metrics.csv files)
  std::string out_dir;            // empty: <first run>/report
  std::string metric;             // empty: the one metric the runs hold
  std::string title;              // empty: from the runs' config.toml and the trial counts
  int width = 900, height = 600;  // the PNG in pixels, the SVG in points
};

// What a run's config.toml says about the figure's title; fields it lacks stay empty.
struct RunInfo {
  std::string dataset;  // the dataset file's stem ("fashion-mnist" for data/fashion-mnist.h5)
  std::string model;
};
// Reads `dataset` and `model` from <run_dir>/config.toml. A missing file gives an empty RunInfo;
// a file that is not TOML is a DataError naming it.
RunInfo read_run_info(const std::string& run_dir);

// "fashion-mnist, mnist-cnn: 3 trials" (distinct datasets/models joined; "2-3 trials" when the
// strategies differ).
std::string default_title(const std::vector<RunInfo>& runs, const Summary& s);

struct ReportResult {
  Summary summary;
  std::string markdown;               // summary.md's text
  std::vector<std::string> files;     // written, in order: PNG, SVG, summary.md
  std::vector<std::string> warnings;  // e.g. an unreadable config.toml (the title then lacks it)
};

// Reads, summarises and writes. Errors (a missing or malformed metrics.csv, the same run given
// twice, several metrics without a choice) are nsal::Errors naming the file and line.
ReportResult make_report(const ReportOptions& o);

}  // namespace nsal::al
