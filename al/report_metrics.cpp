#include "al/report_metrics.h"

#include <charconv>
#include <cmath>
#include <map>
#include <sstream>
#include <tuple>

#include "data/csv.h"
#include "data/file_bytes.h"
#include "kernels/error.h"

namespace nsal::al {

bool metric_is_fraction(const std::string& metric) {
  return metric == "accuracy" || metric == "mIoU";
}

bool metric_lower_is_better(const std::string& metric) {
  return metric == "MAE";
}

namespace {

std::vector<std::string> split_header(const char* header) {
  std::vector<std::string> out;
  std::stringstream ss(header);
  for (std::string f; std::getline(ss, f, ',');)
    out.push_back(f);
  return out;
}

// Reads the fields of one row, naming the table, line and column in every error.
class RowReader {
 public:
  RowReader(const std::vector<std::string>& row, const std::string& name, int64_t line)
      : row_(row), name_(name), line_(line) {}

  template <typename T>
  T integer(size_t col, const char* column, T lo) const {
    const std::string& s = row_[col];
    T v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    NSAL_CHECK_AS(DataError, ec == std::errc() && end == s.data() + s.size(),
                  "{}: line {}: column '{}': '{}' is not an integer", name_, line_, column, s);
    NSAL_CHECK_AS(DataError, v >= lo, "{}: line {}: column '{}': {} is below {}", name_, line_,
                  column, s, lo);
    return v;
  }

  double number(size_t col, const char* column) const {
    const std::string& s = row_[col];
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    NSAL_CHECK_AS(DataError, ec == std::errc() && end == s.data() + s.size() && !s.empty(),
                  "{}: line {}: column '{}': '{}' is not a number", name_, line_, column, s);
    NSAL_CHECK_AS(DataError, std::isfinite(v), "{}: line {}: column '{}': {} is not finite", name_,
                  line_, column, s);
    return v;
  }

  double nonnegative(size_t col, const char* column) const {
    double v = number(col, column);
    NSAL_CHECK_AS(DataError, v >= 0, "{}: line {}: column '{}': {} is negative", name_, line_,
                  column, row_[col]);
    return v;
  }

  const std::string& text(size_t col, const char* column) const {
    NSAL_CHECK_AS(DataError, !row_[col].empty(), "{}: line {}: column '{}' is empty", name_, line_,
                  column);
    return row_[col];
  }

 private:
  const std::vector<std::string>& row_;
  const std::string& name_;
  int64_t line_;
};

}  // namespace

std::vector<MetricRow> parse_metrics_csv(const std::string& text, const std::string& name,
                                         int source) {
  data::CsvTable t = data::parse_csv(text.data(), text.size(), name);

  // Column index of each required field.
  const std::vector<std::string> want = split_header(kMetricsCsvHeader);
  std::vector<size_t> col(want.size());
  std::string missing;
  for (size_t k = 0; k < want.size(); ++k) {
    size_t found = t.header.size();
    for (size_t c = 0; c < t.header.size(); ++c) {
      if (t.header[c] != want[k]) continue;
      NSAL_CHECK_AS(DataError, found == t.header.size(),
                    "{}: line 1: column '{}' appears twice in the header", name, want[k]);
      found = c;
    }
    if (found == t.header.size()) missing += (missing.empty() ? "" : ", ") + want[k];
    col[k] = found;
  }
  NSAL_CHECK_AS(DataError, missing.empty(),
                "{}: line 1: not a metrics table: the header lacks {} (expected '{}')", name,
                missing, kMetricsCsvHeader);

  std::vector<MetricRow> rows;
  rows.reserve(t.rows.size());
  std::map<std::tuple<int, std::string, int>, int64_t> seen;  // (trial, strategy, cycle) -> line
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const int64_t line = t.lines[i];
    RowReader r(t.rows[i], name, line);
    MetricRow m;
    m.trial = r.integer<int>(col[0], "trial", 0);
    m.strategy = r.text(col[1], "strategy");
    m.cycle = r.integer<int>(col[2], "cycle", 0);
    m.labelled = r.integer<int64_t>(col[3], "labelled", 1);
    m.metric = r.text(col[4], "metric");
    m.value = r.number(col[5], "value");
    m.train_seconds = r.nonnegative(col[6], "train_seconds");
    m.acquisition_seconds = r.nonnegative(col[7], "acquisition_seconds");
    m.seed = r.integer<uint64_t>(col[8], "seed", 0);
    m.source = source;
    m.line = line;
    if (metric_is_fraction(m.metric))
      NSAL_CHECK_AS(DataError, m.value >= 0 && m.value <= 1, "{}: line {}: {} {} is outside [0, 1]",
                    name, line, m.metric, m.value);
    else if (metric_lower_is_better(m.metric))
      NSAL_CHECK_AS(DataError, m.value >= 0, "{}: line {}: {} {} is negative", name, line, m.metric,
                    m.value);
    auto [it, fresh] = seen.emplace(std::make_tuple(m.trial, m.strategy, m.cycle), line);
    NSAL_CHECK_AS(DataError, fresh,
                  "{}: line {}: a second row for trial {}, strategy '{}', cycle {} (first on "
                  "line {})",
                  name, line, m.trial, m.strategy, m.cycle, it->second);
    rows.push_back(std::move(m));
  }
  return rows;
}

std::vector<MetricRow> read_metrics_csv(const std::string& path, int source) {
  std::vector<uint8_t> bytes = data::read_file(path);
  return parse_metrics_csv(std::string(bytes.begin(), bytes.end()), path, source);
}

}  // namespace nsal::al
