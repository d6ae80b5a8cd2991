#include "data/csv.h"

#include "data/file_bytes.h"
#include "kernels/error.h"

namespace nsal::data {

CsvTable parse_csv(const char* data, size_t n, const std::string& name, char sep) {
  NSAL_CHECK_AS(DataError, sep != '"' && sep != '\n' && sep != '\r', "{}: bad separator", name);
  CsvTable t;
  size_t i = 0;
  if (n >= 3 && static_cast<uint8_t>(data[0]) == 0xEF && static_cast<uint8_t>(data[1]) == 0xBB &&
      static_cast<uint8_t>(data[2]) == 0xBF)
    i = 3;
  int64_t line = 1;
  std::vector<std::string> row;
  std::string field;
  bool header_done = false;
  while (i < n) {
    // One record, starting at line `start`.
    int64_t start = line;
    row.clear();
    bool blank = true;
    for (;;) {
      field.clear();
      if (i < n && data[i] == '"') {
        blank = false;
        ++i;
        for (;;) {
          NSAL_CHECK_AS(DataError, i < n, "{}: line {}: unterminated quoted field", name, start);
          char c = data[i++];
          if (c == '"') {
            if (i < n && data[i] == '"') {
              field += '"';
              ++i;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        NSAL_CHECK_AS(DataError, i >= n || data[i] == sep || data[i] == '\n' || data[i] == '\r',
                      "{}: line {}: text after the closing quote of field {}", name, line,
                      row.size() + 1);
      } else {
        while (i < n && data[i] != sep && data[i] != '\n' && data[i] != '\r')
          field += data[i++];
        if (!field.empty()) blank = false;
      }
      row.push_back(field);
      if (i < n && data[i] == sep) {
        blank = false;
        ++i;
        continue;
      }
      // End of record: \n, \r\n, a lone \r, or the end of the data.
      if (i < n && data[i] == '\r') ++i;
      if (i < n && data[i] == '\n') ++i;
      ++line;
      break;
    }
    if (blank) continue;  // an empty line
    if (!header_done) {
      t.header = row;
      header_done = true;
      continue;
    }
    NSAL_CHECK_AS(DataError, row.size() == t.header.size(),
                  "{}: line {}: {} fields, but the header has {}", name, start, row.size(),
                  t.header.size());
    t.rows.push_back(row);
    t.lines.push_back(start);
  }
  NSAL_CHECK_AS(DataError, header_done, "{}: empty file (no header row)", name);
  return t;
}

CsvTable read_csv(const std::string& path, char sep) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_csv(reinterpret_cast<const char*>(bytes.data()), bytes.size(), path, sep);
}

}  // namespace nsal::data
