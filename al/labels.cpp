#include "al/labels.h"

#include <algorithm>
#include <filesystem>

#include "al/atomic_file.h"
#include "al/file_lock.h"
#include "al/run_config.h"
#include "data/dataset.h"
#include "kernels/error.h"

namespace nsal::al {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// A whole decimal integer, or false.
bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  try {
    size_t used = 0;
    long long v = std::stoll(s, &used);
    if (used != s.size()) return false;
    out = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

int column(const data::CsvTable& t, const std::string& name, const std::string& file) {
  auto it = std::find(t.header.begin(), t.header.end(), name);
  NSAL_CHECK_AS(DataError, it != t.header.end(),
                "{}:1: the header has no '{}' column (expected index,...,label)", file, name);
  return static_cast<int>(it - t.header.begin());
}

}  // namespace

ParsedLabels parse_label_file(const data::CsvTable& t, const std::string& name,
                              const LabelRules& rules) {
  const int ci = column(t, "index", name), cl = column(t, "label", name);
  ParsedLabels out;
  std::map<int64_t, int64_t> first_line;  // index -> line it first appeared on
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const int64_t line = t.lines[r];
    const std::string idx_text = trim(t.rows[r][static_cast<size_t>(ci)]);
    const std::string label_text = trim(t.rows[r][static_cast<size_t>(cl)]);
    int64_t idx = 0;
    NSAL_CHECK_AS(DataError, parse_int(idx_text, idx),
                  "{}:{}: field 'index': expected a sample index, got '{}'", name, line, idx_text);
    NSAL_CHECK_AS(DataError, idx >= 0 && idx < rules.num_samples,
                  "{}:{}: sample {} is out of range: the training split has {} samples (0-{})",
                  name, line, idx, rules.num_samples, rules.num_samples - 1);
    NSAL_CHECK_AS(DataError, rules.requested.count(idx) > 0,
                  "{}:{}: sample {} was not requested for labelling (see {})", name, line, idx,
                  rules.requested_from);
    auto [it, fresh] = first_line.emplace(idx, line);
    NSAL_CHECK_AS(DataError, fresh, "{}:{}: sample {} is listed again (first on line {})", name,
                  line, idx, it->second);
    if (label_text.empty()) {
      ++out.blank;
      continue;
    }
    int64_t label = -1;
    if (parse_int(label_text, label)) {
      // A number that is also another class's name (folders named 1, 2, 3 are classes 0, 1, 2)
      // could mean either: refuse to guess.
      auto named = std::find(rules.class_names.begin(), rules.class_names.end(), label_text);
      NSAL_CHECK_AS(
          DataError, named == rules.class_names.end() || named - rules.class_names.begin() == label,
          "{}:{}: field 'label': '{}' is class id {} but also the name of class {}, so it could "
          "mean either; give the dataset class names that are not numbers (nsal data convert "
          "--class-names) and label by name",
          name, line, label_text, label, named - rules.class_names.begin());
      NSAL_CHECK_AS(
          DataError, label >= 0 && label < rules.num_classes,
          "{}:{}: field 'label': class {} is out of range: the dataset has {} classes (0-{})", name,
          line, label, rules.num_classes, rules.num_classes - 1);
    } else {
      auto n = std::find(rules.class_names.begin(), rules.class_names.end(), label_text);
      NSAL_CHECK_AS(DataError, n != rules.class_names.end(),
                    "{}:{}: field 'label': '{}' is neither a class id (0-{}) nor a class name",
                    name, line, label_text, rules.num_classes - 1);
      label = n - rules.class_names.begin();
    }
    out.rows.push_back({idx, static_cast<int32_t>(label), line});
  }
  return out;
}

LabelMap read_label_store(const std::string& path) {
  LabelMap out;
  if (!file_exists(path)) return out;
  data::CsvTable t = data::read_csv(path);
  NSAL_CHECK_AS(DataError, (t.header == std::vector<std::string>{"index", "label"}),
                "{}:1: expected the header 'index,label'", path);
  for (size_t r = 0; r < t.rows.size(); ++r) {
    int64_t idx = 0, label = 0;
    if (!parse_int(t.rows[r][0], idx) || !parse_int(t.rows[r][1], label) || idx < 0 || label < 0 ||
        label > INT32_MAX || !out.emplace(idx, static_cast<int32_t>(label)).second)
      throw DataError(fmt::format("{}:{}: expected a new sample index and a class id, got '{},{}'",
                                  path, t.lines[r], t.rows[r][0], t.rows[r][1]));
  }
  return out;
}

void write_label_store(const std::string& path, const LabelMap& labels) {
  std::string s = "index,label\n";
  for (const auto& [idx, label] : labels)
    s += fmt::format("{},{}\n", idx, label);
  write_file_atomic(path, s);
}

void write_labels_used(const std::string& path, const std::vector<int64_t>& labelled,
                       const LabelMap& store) {
  LabelMap used;
  for (int64_t i : labelled)
    used.emplace(i, store.at(i));
  write_label_store(path, used);  // the same "index,label" form
}

void check_labels_used(const std::string& path, const LabelMap& store,
                       const std::string& store_path) {
  if (!file_exists(path)) return;  // a cycle from before the record existed
  for (const auto& [idx, label] : read_label_store(path)) {
    auto it = store.find(idx);
    NSAL_CHECK_AS(
        DataError, it != store.end() && it->second == label,
        "{}: sample {} was labelled {} when {} trained, but now {}; a label a finished "
        "cycle used cannot change or go (the run would mix two labellings): put it "
        "back, or start a new run",
        store_path, idx, label, path,
        it == store.end() ? std::string("has no label") : fmt::format("is {}", it->second));
  }
}

LabelMerge merge_labels(const LabelMap& store, const ParsedLabels& p, const std::string& name,
                        const std::string& store_name) {
  LabelMerge m{store, 0, 0};
  for (const LabelRow& r : p.rows) {
    auto it = store.find(r.index);
    if (it == store.end()) {
      m.labels.emplace(r.index, r.label);
      ++m.added;
    } else if (it->second == r.label) {
      ++m.known;
    } else {
      throw DataError(fmt::format(
          "{}:{}: sample {} is labelled {} here but {} in {}; a stored label does not change", name,
          r.line, r.index, r.label, it->second, store_name));
    }
  }
  return m;
}

std::string label_store_path(const std::string& run_dir) {
  return run_dir + "/labels.csv";
}

std::string annotation_dir(const std::string& run_dir, int cycle) {
  return fmt::format("{}/annotate/cycle_{}", run_dir, cycle);
}

std::vector<AnnotationRequest> annotation_requests(const std::string& run_dir) {
  std::vector<AnnotationRequest> out;
  const std::string root = run_dir + "/annotate";
  if (!file_exists(root)) return out;
  const LabelMap store = read_label_store(label_store_path(run_dir));
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    int64_t cycle = 0;
    if (name.rfind("cycle_", 0) != 0 || !parse_int(name.substr(6), cycle)) continue;
    const std::string req = e.path().string() + "/requested.txt";
    if (!file_exists(req)) continue;  // being written
    AnnotationRequest a;
    a.cycle = static_cast<int>(cycle);
    a.dir = e.path().string();
    a.indices = read_indices(req);
    for (int64_t i : a.indices)
      a.labelled += store.count(i) ? 1 : 0;
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const AnnotationRequest& a, const AnnotationRequest& b) {
    return a.cycle < b.cycle;
  });
  return out;
}

LabelImport import_labels(const std::string& run_dir, const std::string& file) {
  const RunConfig cfg = load_saved_run_config(run_dir + "/config.toml");
  NSAL_CHECK(cfg.oracle == "human",
             "{}/config.toml: field 'oracle' is '{}': labels are imported only into runs with "
             "oracle = \"human\"",
             run_dir, cfg.oracle);
  data::ReadOptions ro;
  ro.load_x = false;
  const data::Dataset train = data::read_dataset(cfg.dataset, "train", ro);
  NSAL_CHECK(train.task == data::Task::classification,
             "{}: human labels need a classification dataset", cfg.dataset);
  LabelRules rules;
  rules.num_samples = train.size();
  rules.num_classes = train.num_classes;
  rules.class_names = train.class_names;
  rules.requested_from = run_dir + "/annotate/cycle_*/requested.txt";
  for (const AnnotationRequest& a : annotation_requests(run_dir))
    rules.requested.insert(a.indices.begin(), a.indices.end());
  const ParsedLabels parsed = parse_label_file(data::read_csv(file), file, rules);

  const std::string store_path = label_store_path(run_dir);
  FileLock lock(run_dir + "/labels.lock", FileLock::Wait::block);
  LabelMerge m = merge_labels(read_label_store(store_path), parsed, file, store_path);
  if (m.added > 0) write_label_store(store_path, m.labels);
  return {m.added, m.known, parsed.blank};
}

}  // namespace nsal::al
