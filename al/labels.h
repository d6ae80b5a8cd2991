// Labels given by people, for runs with oracle = "human". RUN/labels.csv ("index,label", sorted
// by index) is the only place they live: `nsal label import` merges an annotator's file into it
// (checked whole first, then rewritten atomically under a lock), and a label once stored never
// changes, so labels are never lost, duplicated or silently replaced. The run trains on these
// labels instead of the dataset's.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "data/csv.h"

namespace nsal::al {

using LabelMap = std::map<int64_t, int32_t>;  // sample index -> class id

// What a label file may say.
struct LabelRules {
  int64_t num_samples = 0;               // indices lie in [0, num_samples)
  int num_classes = 0;                   // labels lie in [0, num_classes)
  std::vector<std::string> class_names;  // a label may also be a class name
  std::set<int64_t> requested;           // the samples that were asked for
  std::string requested_from;            // where they were asked for, for messages
};

struct LabelRow {
  int64_t index = 0;
  int32_t label = 0;
  int64_t line = 0;  // line of the label file, for messages
};

struct ParsedLabels {
  std::vector<LabelRow> rows;
  int64_t blank = 0;  // rows whose label is still empty (not yet labelled)
};

// Rows of a CSV with an `index` and a `label` column (others, like `file`, are ignored); an empty
// label means "not labelled yet". A malformed index or label, an index out of range or not
// requested, a label that is neither a class id nor a class name, or an index listed twice is a
// DataError naming `name` and the line.
ParsedLabels parse_label_file(const data::CsvTable& t, const std::string& name,
                              const LabelRules& rules);

// RUN/labels.csv; a missing file is an empty map.
LabelMap read_label_store(const std::string& path);
void write_label_store(const std::string& path, const LabelMap& labels);

struct LabelMerge {
  LabelMap labels;
  int64_t added = 0, known = 0;  // new labels; labels already stored with the same value
};
// A label that differs from the stored one for the same sample is a DataError naming the line.
LabelMerge merge_labels(const LabelMap& store, const ParsedLabels& p, const std::string& name,
                        const std::string& store_name);

// The annotation folders of a run (RUN/annotate/cycle_<c>/ holding requested.txt), by cycle.
struct AnnotationRequest {
  int cycle = 0;
  std::string dir;
  std::vector<int64_t> indices;
  int64_t labelled = 0;  // how many of `indices` RUN/labels.csv holds
};
std::vector<AnnotationRequest> annotation_requests(const std::string& run_dir);

// What a cycle trained on: `labels_used_path` ("index,label" of its labelled set) is written
// before the cycle trains; a resume checks every finished cycle's record against the store, so a
// hand edit of RUN/labels.csv that changes or removes a label a cycle already used is an error
// naming the sample, the cycle and both labels (the run would otherwise mix two labellings).
void write_labels_used(const std::string& path, const std::vector<int64_t>& labelled,
                       const LabelMap& store);
void check_labels_used(const std::string& path, const LabelMap& store,
                       const std::string& store_path);

std::string label_store_path(const std::string& run_dir);  // RUN/labels.csv
std::string annotation_dir(const std::string& run_dir, int cycle);

struct LabelImport {
  int64_t added = 0, known = 0, blank = 0;
};
// Checks `file` against the run's dataset and requests, then merges it into RUN/labels.csv.
// Nothing is written unless the whole file is valid.
LabelImport import_labels(const std::string& run_dir, const std::string& file);

}  // namespace nsal::al
