// Samples handed to a person for labelling. An annotation folder holds
//
//   labels.csv     index,file,label: one row per sample, the label column left empty to fill
//                  (a class id 0..C-1 or a class name)
//   classes.csv    id,name: the classes a label may name
//   requested.txt  the sample indices, one per line (what `nsal label import` accepts)
//   <index>.png    the sample as an image, for 2-D images with 1 or 3 channels; images kept as
//                  files are named by their path instead
//
// `nsal query --export DIR` writes one; so does `nsal run` with oracle = "human", in
// RUN/annotate/cycle_<c>/, before it stops to wait for labels (al/labels.h imports them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace nsal::al {

// Whether people can look at d's samples in an annotation folder: 2-D images of 1 or 3 channels
// (written as PNG files), or images kept as files (listed by path). Volumes and tables are not.
bool annotation_shows_samples(const data::Dataset& d);

// Writes the folder for `indices` (samples of `d`); every file appears atomically and
// requested.txt last, so a folder with requested.txt is complete.
void write_annotation_folder(const data::Dataset& d, const std::vector<int64_t>& indices,
                             const std::string& dir);

// Removes what write_annotation_folder wrote into `dir`, as its requested.txt lists it (the
// samples' PNG files, labels.csv, classes.csv, requested.txt last); nothing else in the folder is
// touched.
void remove_annotation_folder_files(const std::string& dir);

}  // namespace nsal::al
