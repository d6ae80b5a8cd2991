#include "al/report.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>

#include "al/atomic_file.h"
#include "al/environment.h"
#include "al/report_metrics.h"
#include "al/report_plot.h"
#include "kernels/error.h"

namespace nsal::al {

namespace fs = std::filesystem;

RunInfo read_run_info(const std::string& run_dir) {
  RunInfo info;
  const fs::path path = fs::path(run_dir) / "config.toml";
  std::error_code ec;
  if (!fs::exists(path, ec)) return info;
  toml::table root;
  try {
    root = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    throw DataError(
        fmt::format("{}: line {}: {}", path.string(), e.source().begin.line, e.description()));
  }
  if (auto d = root["dataset"].value<std::string>(); d && !d->empty())
    info.dataset = fs::path(*d).stem().string();
  if (auto m = root["model"].value<std::string>()) info.model = *m;
  return info;
}

namespace {

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + v[i];
  return s;
}

// The run directory and metrics table a command-line argument names.
struct RunPaths {
  fs::path dir, metrics;
};
RunPaths resolve_run(const std::string& arg) {
  std::error_code ec;
  const fs::path p(arg);
  NSAL_CHECK_AS(DataError, fs::exists(p, ec), "{}: no such run directory", arg);
  if (fs::is_regular_file(p, ec)) return {p.parent_path().empty() ? "." : p.parent_path(), p};
  const fs::path metrics = p / "metrics.csv";
  NSAL_CHECK_AS(DataError, fs::is_regular_file(metrics, ec),
                "{}: no metrics.csv (is this a run directory written by `nsal run`?)", arg);
  return {p, metrics};
}

}  // namespace

std::string default_title(const std::vector<RunInfo>& runs, const Summary& s) {
  std::vector<std::string> datasets, models;
  for (const RunInfo& r : runs) {
    add_unique(datasets, r.dataset);
    add_unique(models, r.model);
  }
  int lo = 0, hi = 0;
  for (size_t i = 0; i < s.curves.size(); ++i) {
    lo = i ? std::min(lo, s.curves[i].trials) : s.curves[i].trials;
    hi = i ? std::max(hi, s.curves[i].trials) : s.curves[i].trials;
  }
  std::string trials = lo == hi ? fmt::format("{} trial{}", hi, hi == 1 ? "" : "s")
                                : fmt::format("{}-{} trials", lo, hi);
  std::vector<std::string> head;
  add_unique(head, join(datasets));
  add_unique(head, join(models));
  return head.empty() ? "Learning curves: " + trials : join(head) + ": " + trials;
}

ReportResult make_report(const ReportOptions& o) {
  NSAL_CHECK(!o.runs.empty(), "report: no run directories given");
  ReportResult res;
  std::vector<MetricRow> rows;
  std::vector<RunInfo> infos;
  std::vector<fs::path> seen;
  std::vector<std::string> run_names;
  std::vector<std::pair<std::string, std::vector<std::string>>> machines;
  std::vector<std::vector<std::string>> run_metrics;        // per run kept: the metrics it holds
  std::vector<std::vector<std::string>> run_machine_lists;  // per run kept: where it ran
  for (size_t i = 0; i < o.runs.size(); ++i) {
    RunPaths rp = resolve_run(o.runs[i]);
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(rp.metrics, ec);
    if (ec) canon = rp.metrics;
    NSAL_CHECK(std::find(seen.begin(), seen.end(), canon) == seen.end(),
               "{}: given twice (its trials would count double)", rp.metrics.string());
    seen.push_back(canon);
    std::vector<MetricRow> r = read_metrics_csv(rp.metrics.string(), static_cast<int>(i));
    if (r.empty()) {  // a run that has not finished a cycle yet
      res.warnings.push_back(
          fmt::format("{}: no rows yet (no cycle has finished); left out", rp.metrics.string()));
      continue;
    }
    rows.insert(rows.end(), r.begin(), r.end());
    run_names.push_back(rp.dir.string());
    run_metrics.push_back(metrics_present(r));
    try {
      infos.push_back(read_run_info(rp.dir.string()));
    } catch (const Error& e) {
      infos.push_back({});  // one entry per run kept
      res.warnings.push_back(fmt::format("{} (the title leaves it out)", e.what()));
    }
    try {
      run_machine_lists.push_back(run_machines(rp.dir.string()));
    } catch (const Error& e) {
      run_machine_lists.push_back({});
      res.warnings.push_back(fmt::format("{} (the machines section leaves it out)", e.what()));
    }
  }

  NSAL_CHECK_AS(DataError, !rows.empty(), "report: none of the runs has a finished cycle yet");
  res.summary = summarize(rows, o.metric);
  // The title, the run list and the machines name only the runs that hold the metric reported.
  {
    std::vector<std::string> names;
    std::vector<RunInfo> kept_infos;
    for (size_t i = 0; i < run_names.size(); ++i) {
      const auto& held = run_metrics[i];
      if (std::find(held.begin(), held.end(), res.summary.metric) == held.end()) continue;
      names.push_back(run_names[i]);
      kept_infos.push_back(infos[i]);
      for (const std::string& m : run_machine_lists[i]) {
        auto it = std::find_if(machines.begin(), machines.end(),
                               [&](const auto& e) { return e.first == m; });
        if (it == machines.end()) it = machines.insert(machines.end(), {m, {}});
        it->second.push_back(run_names[i]);
      }
    }
    run_names = names;
    infos = kept_infos;
  }
  // Trials pool by strategy: runs of other models or datasets become trials of one curve.
  std::vector<std::string> models, datasets;
  for (const RunInfo& r : infos) {
    add_unique(models, r.model);
    add_unique(datasets, r.dataset);
  }
  if (models.size() > 1 || datasets.size() > 1)
    res.warnings.push_back(fmt::format(
        "the runs differ in {} ({}); their trials are pooled into one curve per strategy",
        models.size() > 1 ? "model" : "dataset", join(models.size() > 1 ? models : datasets)));
  std::string title = o.title.empty() ? default_title(infos, res.summary) : o.title;
  std::replace(title.begin(), title.end(), '\n', ' ');  // one heading line
  std::replace(title.begin(), title.end(), '\r', ' ');
  res.markdown = summary_markdown(res.summary, {title, run_names, machines});

  const fs::path out = o.out_dir.empty() ? resolve_run(o.runs[0]).dir / "report"
                                         : fs::path(o.out_dir);  // first given
  std::error_code ec;
  fs::create_directories(out, ec);
  NSAL_CHECK(!ec && fs::is_directory(out), "{}: cannot create the output directory: {}",
             out.string(), ec ? ec.message() : "not a directory");
  PlotOptions plot;
  plot.width = o.width;
  plot.height = o.height;
  plot.title = title;
  const fs::path png = out / "learning_curves.png", svg = out / "learning_curves.svg",
                 md = out / "summary.md";
  write_learning_curves_png(png.string(), res.summary, plot);
  write_learning_curves_svg(svg.string(), res.summary, plot);
  write_file_atomic(md, res.markdown);
  res.files = {png.string(), svg.string(), md.string()};
  return res;
}

}  // namespace nsal::al
