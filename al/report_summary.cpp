#include "al/report_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "kernels/error.h"

namespace nsal::al {

std::vector<std::string> metrics_present(const std::vector<MetricRow>& rows) {
  std::vector<std::string> out;
  for (const MetricRow& r : rows)
    if (std::find(out.begin(), out.end(), r.metric) == out.end()) out.push_back(r.metric);
  return out;
}

namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? sep : "") + v[i];
  return s;
}

using TrialKey = std::pair<int, int>;  // (source, trial)

StrategyCurve build_curve(const std::string& strategy, const std::vector<const MetricRow*>& rows) {
  StrategyCurve c;
  c.strategy = strategy;
  std::map<int64_t, std::vector<double>> by_labelled;
  std::map<TrialKey, std::vector<const MetricRow*>> by_trial;
  double train_sum = 0;
  for (const MetricRow* r : rows) {
    by_labelled[r->labelled].push_back(r->value);
    by_trial[{r->source, r->trial}].push_back(r);
    train_sum += r->train_seconds;
  }
  c.trials = static_cast<int>(by_trial.size());
  c.train_seconds = train_sum / static_cast<double>(rows.size());

  double auc_sum = 0;
  for (const auto& [labelled, values] : by_labelled) {
    CurvePoint p;
    p.labelled = labelled;
    p.trials = static_cast<int>(values.size());
    double sum = 0;
    p.min = std::numeric_limits<double>::infinity();
    p.max = -p.min;
    for (double v : values) {
      sum += v;
      p.min = std::min(p.min, v);
      p.max = std::max(p.max, v);
    }
    p.mean = sum / static_cast<double>(values.size());
    auc_sum += p.mean;
    c.points.push_back(p);
  }
  c.auc = auc_sum / static_cast<double>(c.points.size());

  c.auc_min = std::numeric_limits<double>::infinity();
  c.auc_max = -c.auc_min;
  double acq_sum = 0;
  for (auto& [key, trial_rows] : by_trial) {
    double sum = 0;
    int last_cycle = 0;
    for (const MetricRow* r : trial_rows) {
      sum += r->value;
      last_cycle = std::max(last_cycle, r->cycle);
    }
    double auc = sum / static_cast<double>(trial_rows.size());
    c.auc_min = std::min(c.auc_min, auc);
    c.auc_max = std::max(c.auc_max, auc);
    // The last cycle acquires nothing and records 0; a trial cut short may end on a cycle that
    // did acquire, so only a 0 there is left out.
    for (const MetricRow* r : trial_rows) {
      if (r->cycle == last_cycle && r->acquisition_seconds == 0) continue;
      acq_sum += r->acquisition_seconds;
      ++c.acquisitions;
    }
  }
  c.acquisition_seconds = c.acquisitions ? acq_sum / c.acquisitions : 0;
  return c;
}

}  // namespace

Summary summarize(const std::vector<MetricRow>& rows, const std::string& metric) {
  NSAL_CHECK_AS(DataError, !rows.empty(), "report: no metrics rows");
  const std::vector<std::string> present = metrics_present(rows);
  Summary s;
  if (metric.empty()) {
    NSAL_CHECK_AS(DataError, present.size() == 1,
                  "report: the runs hold several metrics ({}); choose one with --metric",
                  join(present, ", "));
    s.metric = present[0];
  } else {  // any case: --metric mae is MAE
    auto same = [&](const std::string& m) {
      return m.size() == metric.size() &&
             std::equal(m.begin(), m.end(), metric.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) ==
                      std::tolower(static_cast<unsigned char>(b));
             });
    };
    auto it = std::find_if(present.begin(), present.end(), same);
    NSAL_CHECK_AS(DataError, it != present.end(),
                  "report: no rows for metric '{}' (the runs hold {})", metric,
                  join(present, ", "));
    s.metric = *it;
  }

  std::vector<std::string> order;
  std::map<std::string, std::vector<const MetricRow*>> by_strategy;
  for (const MetricRow& r : rows) {
    if (r.metric != s.metric) continue;
    auto& v = by_strategy[r.strategy];
    if (v.empty()) order.push_back(r.strategy);
    v.push_back(&r);
  }
  for (const std::string& name : order)
    s.curves.push_back(build_curve(name, by_strategy[name]));
  return s;
}

std::vector<size_t> rank_strategies(const Summary& s) {
  std::vector<size_t> idx(s.curves.size());
  for (size_t i = 0; i < idx.size(); ++i)
    idx[i] = i;
  const bool lower = metric_lower_is_better(s.metric);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return lower ? s.curves[a].auc < s.curves[b].auc : s.curves[a].auc > s.curves[b].auc;
  });
  return idx;
}

ValueFormat value_format(const Summary& s) {
  ValueFormat f;
  if (metric_is_fraction(s.metric)) {
    f.scale = 100;
    f.decimals = 2;
    f.unit = "%";
    return f;
  }
  double biggest = 0;
  for (const StrategyCurve& c : s.curves)
    for (const CurvePoint& p : c.points)
      biggest = std::max(biggest, std::fabs(p.max));
  // About four significant digits.
  int magnitude = biggest > 0 ? static_cast<int>(std::floor(std::log10(biggest))) : 0;
  f.decimals = std::clamp(3 - magnitude, 0, 8);
  return f;
}

namespace {

std::string cell_text(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

std::string fmt_value(double v, const ValueFormat& f) {
  return fmt::format("{:.{}f}", v * f.scale, f.decimals);
}

// "72.31 (71.90-72.80)"; one trial: "72.31"; fewer trials than the strategy has: ", n=2".
std::string spread_text(double mean, double lo, double hi, int n, int of, const ValueFormat& f) {
  if (of <= 1) return fmt_value(mean, f);
  std::string s = fmt_value(mean, f) + " (" + fmt_value(lo, f) + "-" + fmt_value(hi, f);
  if (n < of) s += fmt::format(", n={}", n);
  return s + ")";
}

std::string seconds_text(double s) {
  if (s >= 100) return fmt::format("{:.0f}", s);
  if (s >= 1) return fmt::format("{:.2f}", s);
  return fmt::format("{:.3g}", s);
}

}  // namespace

std::string summary_markdown(const Summary& s, const SummaryText& text) {
  const ValueFormat f = value_format(s);
  const std::string metric_label = s.metric + (f.unit.empty() ? "" : " (" + f.unit + ")");
  std::string md = "# " + text.title + "\n\n";
  if (!text.runs.empty()) {
    md += "Runs:";
    for (const std::string& r : text.runs)
      md += " `" + r + "`";
    md += "\n\n";
  }

  md += fmt::format("## {} by labelled count\n\n", metric_label);
  md += "Mean over trials, with the lowest and highest trial in brackets.\n\n";
  md += "| labelled |";
  for (const StrategyCurve& c : s.curves)
    md += fmt::format(" {} ({} trial{}) |", cell_text(c.strategy), c.trials,
                      c.trials == 1 ? "" : "s");
  md += "\n|---:|";
  for (size_t i = 0; i < s.curves.size(); ++i)
    md += "---:|";
  md += "\n";
  std::set<int64_t> all_labelled;
  for (const StrategyCurve& c : s.curves)
    for (const CurvePoint& p : c.points)
      all_labelled.insert(p.labelled);
  for (int64_t n : all_labelled) {
    md += fmt::format("| {} |", n);
    for (const StrategyCurve& c : s.curves) {
      auto it = std::find_if(c.points.begin(), c.points.end(),
                             [&](const CurvePoint& p) { return p.labelled == n; });
      md += " " +
            (it == c.points.end()
                 ? std::string("-")
                 : spread_text(it->mean, it->min, it->max, it->trials, c.trials, f)) +
            " |";
    }
    md += "\n";
  }

  md += "\n## Ranking by area under the learning curve\n\n";
  md += fmt::format(
      "Area: the mean {} over cycles, of the mean curve (in brackets: the lowest and highest "
      "trial). {} is better.\n\n",
      metric_label, metric_lower_is_better(s.metric) ? "Lower" : "Higher");
  md += "| rank | strategy | trials | cycles | area |\n|---:|:---|---:|---:|---:|\n";
  int rank = 0;
  for (size_t i : rank_strategies(s)) {
    const StrategyCurve& c = s.curves[i];
    md += fmt::format("| {} | {} | {} | {} | {} |\n", ++rank, cell_text(c.strategy), c.trials,
                      c.points.size(),
                      spread_text(c.auc, c.auc_min, c.auc_max, c.trials, c.trials, f));
  }

  md += "\n## Time\n\n";
  md +=
      "Mean seconds per acquisition (the last cycle acquires nothing) and per cycle of "
      "training.\n\n";
  md +=
      "| strategy | acquisitions | acquisition s | train s per cycle |\n"
      "|:---|---:|---:|---:|\n";
  for (const StrategyCurve& c : s.curves)
    md += fmt::format("| {} | {} | {} | {} |\n", cell_text(c.strategy), c.acquisitions,
                      c.acquisitions ? seconds_text(c.acquisition_seconds) : "-",
                      seconds_text(c.train_seconds));

  if (!text.machines.empty()) {
    md += "\n## Machines\n\n";
    md +=
        "Where the runs ran (from each run's environment.jsonl; the times above are theirs). "
        "Results repeat bit for bit only on the same backend and kind of machine.\n\n";
    for (const auto& [machine, runs] : text.machines) {
      md += "- " + machine + ":";
      for (const std::string& r : runs)
        md += " `" + r + "`";
      md += "\n";
    }
  }
  return md;
}

}  // namespace nsal::al
