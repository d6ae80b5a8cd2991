// The parsers' fuzzing entry points: each takes arbitrary bytes, runs one parser on them and
// swallows the DataError (or other nsal::Error) that bad input must produce. Anything else (a
// crash, another exception, a sanitizer report) is a bug. data/fuzz/ wraps them for libFuzzer;
// tests/test_data_fuzz_corpus.cpp replays tests/fuzz_corpus/<target>/ through them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nsal::data {

int fuzz_idx(const uint8_t* data, size_t n);       // IDX, gzipped or not
int fuzz_cifar(const uint8_t* data, size_t n);     // CIFAR-10/100 records (first byte: variant)
int fuzz_csv(const uint8_t* data, size_t n);       // CSV parsing and feature encoding
int fuzz_png(const uint8_t* data, size_t n);       // PNG as RGB and as a label map
int fuzz_jpeg(const uint8_t* data, size_t n);      // JPEG as RGB
int fuzz_svhn_mat(const uint8_t* data, size_t n);  // SVHN .mat through libmatio (temp file)
int fuzz_dataset(const uint8_t* data, size_t n);   // a dataset .h5 through the reader (temp file)

struct FuzzTarget {
  const char* name;
  int (*fn)(const uint8_t*, size_t);
};
const std::vector<FuzzTarget>& fuzz_targets();

}  // namespace nsal::data
