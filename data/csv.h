// CSV tables for regression (the Ames housing data): an RFC 4180 parser and the converter that
// encodes numeric and categorical columns into float32 features (docs/data-format.md, "CSV").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/convert.h"

namespace nsal::data {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;  // the line each row starts on (1-based, the header is line 1)
};

// Comma-separated (or `sep`), with a header row; fields may be double-quoted ("" is a quote,
// quoted fields may hold separators and newlines); LF or CRLF; a UTF-8 byte-order mark and
// blank lines are skipped. A row whose field count differs from the header's, an unterminated
// quote or text after a closing quote is a DataError naming `name` and the line.
CsvTable parse_csv(const char* data, size_t n, const std::string& name, char sep = ',');
CsvTable read_csv(const std::string& path, char sep = ',');

struct CsvOptions {
  std::string target;                    // the column to predict (numeric)
  std::vector<std::string> drop;         // columns left out (e.g. Id)
  std::vector<std::string> categorical;  // columns one-hot encoded even when they look numeric
  std::vector<std::string> na_values = {"", "NA", "N/A", "NaN", "nan", "null", "NULL"};
  std::string test_file;       // a separate test table; else rows are split:
  double test_fraction = 0.5;  // the paper uses half of Ames for testing
  uint64_t seed = 0;
  bool log_target = false;  // predict log(target) (needs target > 0)
  char sep = ',';
};

// The encoded table: x float32 (N, F), y float32 (N); the encoding is fitted on `train` only.
struct EncodedTable {
  Dataset train, test;
};
EncodedTable encode_csv(const CsvTable& train, const std::string& train_name, const CsvTable& test,
                        const std::string& test_name, const CsvOptions& opts);

void convert_csv(const std::string& path, const CsvOptions& csv, const ConvertOptions& opts);

}  // namespace nsal::data
