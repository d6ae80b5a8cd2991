// Turns CSV tables into regression features; docs/data-format.md ("CSV") states the rules.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "data/csv.h"
#include "data/dataset_writer.h"
#include "data/rng.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

enum class Parse { ok, not_a_number, non_finite };

// A whole field as a decimal number: surrounding blanks allowed, nothing else. Hexadecimal
// forms that strtod would take ("0x1A", "0x1p3") are text, as a spreadsheet or pandas reads
// them: such a column is more likely an identifier or a code than a quantity.
Parse parse_number(const std::string& raw, double& out) {
  std::string s = trim(raw);
  if (s.empty() || s.find_first_of("xX") != std::string::npos) return Parse::not_a_number;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return Parse::not_a_number;
  if (!std::isfinite(v)) return Parse::non_finite;
  out = v;
  return Parse::ok;
}

struct Column {
  std::string name;
  size_t index = 0;
  bool numeric = true;
  double median = 0;
  bool indicator = false;               // numeric with missing values in train
  std::vector<std::string> categories;  // sorted, for categorical columns
};

const char* kMissingCategory = "NA";

bool is_missing(const std::string& v, const CsvOptions& opts) {
  return contains(opts.na_values, trim(v));
}

// Checks the two tables' columns and the options that name columns; returns the target's.
size_t check_columns(const CsvTable& train, const std::string& train_name, const CsvTable& test,
                     const std::string& test_name, const CsvOptions& opts) {
  NSAL_CHECK_AS(DataError, !opts.target.empty(), "{}: no target column given (--target)",
                train_name);
  NSAL_CHECK_AS(DataError, test.header == train.header, "{}: the columns differ from those of {}",
                test_name, train_name);
  for (size_t i = 0; i < train.header.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      NSAL_CHECK_AS(DataError, train.header[i] != train.header[j],
                    "{}: line 1: columns {} and {} are both named '{}' (--target, --drop and "
                    "--categorical could not tell them apart)",
                    train_name, j + 1, i + 1, train.header[i]);
  auto col_of = [&](const std::string& c) -> size_t {
    auto it = std::find(train.header.begin(), train.header.end(), c);
    NSAL_CHECK_AS(DataError, it != train.header.end(), "{}: no column named '{}'", train_name, c);
    return static_cast<size_t>(it - train.header.begin());
  };
  const size_t target = col_of(opts.target);
  for (const auto& c : opts.drop)
    col_of(c);
  for (const auto& c : opts.categorical)
    col_of(c);
  NSAL_CHECK_AS(DataError, !train.rows.empty(), "{}: empty dataset (no rows)", train_name);
  NSAL_CHECK_AS(DataError, !test.rows.empty(), "{}: empty dataset (no test rows)", test_name);
  return target;
}

// Column j's encoding, fitted on the training rows: numeric (its median for missing values, and
// a missing indicator when the training rows miss some) or categorical (its sorted categories,
// "NA" for missing).
Column fit_column(const CsvTable& train, const std::string& train_name, size_t j,
                  const CsvOptions& opts) {
  Column c;
  c.name = train.header[j];
  c.index = j;
  c.numeric = !contains(opts.categorical, c.name);
  std::vector<double> values;
  bool missing = false;
  for (size_t r = 0; r < train.rows.size() && c.numeric; ++r) {
    const std::string& f = train.rows[r][j];
    if (is_missing(f, opts)) {
      missing = true;
      continue;
    }
    double v;
    Parse p = parse_number(f, v);
    NSAL_CHECK_AS(DataError, p != Parse::non_finite,
                  "{}: line {}, column '{}': non-finite value '{}'", train_name, train.lines[r],
                  c.name, f);
    if (p == Parse::not_a_number)
      c.numeric = false;
    else
      values.push_back(v);
  }
  if (c.numeric) {
    NSAL_CHECK_AS(DataError, !values.empty(),
                  "{}: column '{}' has no values in the training rows (drop it with --drop)",
                  train_name, c.name);
    std::sort(values.begin(), values.end());
    size_t m = values.size();
    c.median = m % 2 ? values[m / 2] : 0.5 * (values[m / 2 - 1] + values[m / 2]);
    c.indicator = missing;
  } else {
    std::set<std::string> cats;
    for (const auto& row : train.rows)
      cats.insert(is_missing(row[j], opts) ? kMissingCategory : trim(row[j]));
    c.categories.assign(cats.begin(), cats.end());
  }
  return c;
}

// The encoded features, in order: a numeric column, then its missing indicator; one
// `<col>=<value>` per category of a categorical column.
std::vector<std::string> feature_names(const std::vector<Column>& cols) {
  std::vector<std::string> features;
  for (const auto& c : cols) {
    if (c.numeric) {
      features.push_back(c.name);
      if (c.indicator) features.push_back(c.name + ":missing");
    } else {
      for (const auto& v : c.categories)
        features.push_back(c.name + "=" + v);
    }
  }
  return features;
}

// Encodes the rows of `t` with the fitted columns: x float32 (N, num_features), y float32 (N).
void encode_rows(const CsvTable& t, const std::string& name, const std::vector<Column>& cols,
                 int64_t num_features, size_t target, const CsvOptions& opts, Dataset& out) {
  const int64_t n = static_cast<int64_t>(t.rows.size()), f = num_features;
  out.task = Task::regression;
  out.x = Tensor({n, f}, DType::f32, Device::cpu(), "CSV features");
  out.y = Tensor({n}, DType::f32);
  float* x = out.x.data<float>();
  for (int64_t r = 0; r < n; ++r) {
    const auto& row = t.rows[static_cast<size_t>(r)];
    int64_t line = t.lines[static_cast<size_t>(r)];
    double yv;
    const std::string& ys = row[target];
    NSAL_CHECK_AS(DataError, !is_missing(ys, opts), "{}: line {}: the target '{}' is missing", name,
                  line, opts.target);
    Parse p = parse_number(ys, yv);
    NSAL_CHECK_AS(DataError, p == Parse::ok,
                  "{}: line {}: the target '{}' is '{}', not a finite "
                  "number",
                  name, line, opts.target, ys);
    if (opts.log_target) {
      NSAL_CHECK_AS(DataError, yv > 0, "{}: line {}: --log-target needs a positive target, got {}",
                    name, line, yv);
      yv = std::log(yv);
    }
    out.y.data<float>()[r] = static_cast<float>(yv);
    float* o = x + r * f;
    int64_t k = 0;
    for (const auto& c : cols) {
      const std::string& fld = row[c.index];
      if (c.numeric) {
        double v = c.median;
        bool miss = is_missing(fld, opts);
        if (!miss) {
          Parse q = parse_number(fld, v);
          NSAL_CHECK_AS(DataError, q == Parse::ok,
                        "{}: line {}, column '{}': '{}' is not a finite number (the column is "
                        "numeric in the training rows)",
                        name, line, c.name, fld);
        }
        o[k++] = static_cast<float>(v);
        if (c.indicator) o[k++] = miss ? 1.f : 0.f;
      } else {
        std::string v = is_missing(fld, opts) ? kMissingCategory : trim(fld);
        for (const auto& cat : c.categories)
          o[k++] = cat == v ? 1.f : 0.f;  // a category unseen in training: all zeros
      }
    }
  }
}

}  // namespace

EncodedTable encode_csv(const CsvTable& train, const std::string& train_name, const CsvTable& test,
                        const std::string& test_name, const CsvOptions& opts) {
  const size_t target = check_columns(train, train_name, test, test_name, opts);
  std::vector<Column> cols;  // fitted on the training rows
  for (size_t j = 0; j < train.header.size(); ++j)
    if (j != target && !contains(opts.drop, train.header[j]))
      cols.push_back(fit_column(train, train_name, j, opts));
  const std::vector<std::string> features = feature_names(cols);
  NSAL_CHECK_AS(DataError, !features.empty(), "{}: no feature columns left", train_name);
  const int64_t f = static_cast<int64_t>(features.size());
  EncodedTable e;
  encode_rows(train, train_name, cols, f, target, opts, e.train);
  encode_rows(test, test_name, cols, f, target, opts, e.test);
  e.train.feature_names = features;
  e.test.feature_names = features;
  return e;
}

void convert_csv(const std::string& path, const CsvOptions& csv, const ConvertOptions& opts) {
  CsvTable all = read_csv(path, csv.sep);
  CsvTable train, test;
  std::string test_name = path;
  SourceRecord src("csv");
  src.add(path);
  if (!csv.test_file.empty()) {
    train = std::move(all);
    test = read_csv(csv.test_file, csv.sep);
    test_name = csv.test_file;
    src.add(csv.test_file);
  } else {
    NSAL_CHECK_AS(DataError, csv.test_fraction > 0 && csv.test_fraction < 1,
                  "--test-fraction {} must be in (0, 1)", csv.test_fraction);
    NSAL_CHECK_AS(DataError, all.rows.size() >= 2,
                  "{}: {} rows cannot be split into train and test", path, all.rows.size());
    std::vector<size_t> order(all.rows.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    Rng rng(csv.seed, 0);
    shuffle(order, rng);
    size_t n_test =
        std::clamp<size_t>(static_cast<size_t>(std::lround(csv.test_fraction * all.rows.size())), 1,
                           all.rows.size() - 1);
    std::sort(order.begin(), order.begin() + static_cast<long>(n_test));
    std::sort(order.begin() + static_cast<long>(n_test), order.end());
    train.header = test.header = all.header;
    for (size_t i = 0; i < order.size(); ++i) {
      CsvTable& t = i < n_test ? test : train;
      t.rows.push_back(all.rows[order[i]]);
      t.lines.push_back(all.lines[order[i]]);
    }
    src.note(fmt::format("rows split {}/{} with seed {}", train.rows.size(), test.rows.size(),
                         csv.seed));
  }
  EncodedTable e = encode_csv(train, path, test, test_name, csv);
  DatasetInfo info;
  info.task = Task::regression;
  info.feature_names = e.train.feature_names;
  src.note("target " + csv.target + (csv.log_target ? " (log)" : ""));
  src.apply(info);
  apply_overrides(opts, info);
  DatasetWriter w(opts.output, info, {opts.force, opts.deflate});
  for (Dataset* d : {&e.train, &e.test}) {
    w.begin_split(d == &e.train ? "train" : "test", d->x.dim(0), {d->x.dim(1)}, DType::f32, {},
                  DType::f32);
    w.append(d->x, d->y);
    w.end_split();
  }
  w.finish();
}

}  // namespace nsal::data
