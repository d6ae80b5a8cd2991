#include "data/convert.h"

#include <algorithm>
#include <set>

#include "data/file_bytes.h"
#include "data/sha256.h"
#include "kernels/error.h"

namespace nsal::data {

void SourceRecord::add(const std::string& path) {
  std::string name = base_name(path);
  names_.push_back(name);
  sums_ += sha256_file(path) + "  " + name + "\n";
}

void SourceRecord::note(const std::string& text) {
  names_.push_back(text);
}

void SourceRecord::apply(DatasetInfo& info) const {
  std::string s = format_ + ":";
  for (size_t i = 0; i < names_.size(); ++i)
    s += (i ? ", " : " ") + names_[i];
  info.source = s;
  info.source_sha256 = sums_;
}

void apply_overrides(const ConvertOptions& o, DatasetInfo& info) {
  if (!o.class_names.empty()) {
    NSAL_CHECK_AS(DataError, info.num_classes == 0 || (int)o.class_names.size() == info.num_classes,
                  "{} class names given for {} classes", o.class_names.size(), info.num_classes);
    // People label by name or by id (nsal label import), so a name must say one class only.
    std::set<std::string> seen;
    for (size_t i = 0; i < o.class_names.size(); ++i) {
      const std::string& n = o.class_names[i];
      NSAL_CHECK_AS(DataError, !n.empty(), "--class-names: name {} is empty", i);
      NSAL_CHECK_AS(DataError, seen.insert(n).second, "--class-names: '{}' is given twice", n);
      const bool digits =
          std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
      NSAL_CHECK_AS(DataError, !digits || n == std::to_string(i),
                    "--class-names: '{}' names class {}, but reads as class id {}", n, i, n);
    }
    info.class_names = o.class_names;
  }
  NSAL_CHECK_AS(DataError, o.mean.size() == o.std.size(), "--mean has {} values, --std {}",
                o.mean.size(), o.std.size());
  if (!o.mean.empty()) {
    info.mean = o.mean;
    info.std = o.std;
  }
}

std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

std::vector<std::string> known_class_names(const std::string& dataset) {
  if (dataset == "mnist" || dataset == "svhn")
    return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  if (dataset == "fashion-mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (dataset == "cifar10")
    return {"airplane", "automobile", "bird",  "cat",  "deer",
            "dog",      "frog",       "horse", "ship", "truck"};
  return {};
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path, false);
  std::vector<std::string> lines;
  std::string cur;
  for (uint8_t b : bytes) {
    if (b == '\n') {
      if (!cur.empty() && cur.back() == '\r') cur.pop_back();
      if (!cur.empty()) lines.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(b);
    }
  }
  if (!cur.empty() && cur.back() == '\r') cur.pop_back();
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

int infer_num_classes(const std::vector<const Tensor*>& labels) {
  int32_t mx = -1;
  for (const Tensor* t : labels) {
    const int32_t* p = t->data<int32_t>();
    for (int64_t i = 0; i < t->numel(); ++i)
      mx = std::max(mx, p[i]);
  }
  return mx + 1;
}

}  // namespace nsal::data
