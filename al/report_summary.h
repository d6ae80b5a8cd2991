// Learning curves from pooled metrics rows: per strategy and labelled count the mean, min and max
// over trials, the area under the curve, and acquisition/training times; and the markdown
// summary `nsal report` writes (docs/report.md).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "al/report_metrics.h"

namespace nsal::al {

struct CurvePoint {
  int64_t labelled = 0;
  int trials = 0;  // trials with a row at this labelled count
  double mean = 0, min = 0, max = 0;
};

struct StrategyCurve {
  std::string strategy;
  int trials = 0;                  // distinct (table, trial) pairs
  std::vector<CurvePoint> points;  // by labelled count, ascending
  // Area under the learning curve as the mean metric over cycles: of the mean curve (`auc`),
  // and of each trial's own curve (`auc_min`, `auc_max`).
  double auc = 0, auc_min = 0, auc_max = 0;
  int acquisitions = 0;            // rows that acquired (the last cycle of a trial does not)
  double acquisition_seconds = 0;  // mean per acquisition
  double train_seconds = 0;        // mean per cycle
};

struct Summary {
  std::string metric;                 // the metric all rows share
  std::vector<StrategyCurve> curves;  // in the order strategies first appear in the rows
};

// The metrics present in the rows, in order of first appearance.
std::vector<std::string> metrics_present(const std::vector<MetricRow>& rows);

// Groups rows by strategy, then by labelled count. `metric` picks the rows to use; empty means
// the one metric present (several present is then an error listing them). Trials are told
// apart by (source, trial), so tables from different runs pool as separate trials.
Summary summarize(const std::vector<MetricRow>& rows, const std::string& metric = "");

// Strategy indices best first by area under the curve (largest, or smallest for MAE).
std::vector<size_t> rank_strategies(const Summary& s);

// The numbers as shown: percent for accuracy/mIoU, with a fixed number of decimals.
struct ValueFormat {
  double scale = 1;
  int decimals = 2;
  std::string unit;  // "%" or ""
};
ValueFormat value_format(const Summary& s);

struct SummaryText {
  std::string title;              // first line
  std::vector<std::string> runs;  // the run directories pooled
  // The machines the runs ran on (al/environment.h run_machines), each with the runs that ran
  // there; empty: no section.
  std::vector<std::pair<std::string, std::vector<std::string>>> machines;
};

// The markdown report: the curve table (rows: labelled count; columns: strategy
// "mean (min-max)"), the trials per strategy, the ranking by area under the curve, and the
// acquisition and training times, and the machines the runs ran on.
std::string summary_markdown(const Summary& s, const SummaryText& text);

}  // namespace nsal::al
