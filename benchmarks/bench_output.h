// The result files of the benchmarks (CSV or JSON): one file type that closes itself, names its
// path in every error (a write that did not reach the file included), and quotes strings, so
// that a CPU or GPU name cannot break a row.
#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace nsal::bench {

class OutputFile {
 public:
  OutputFile() = default;  // no file: print() writes nothing (an output nobody asked for)
  explicit OutputFile(std::string path) : path_(std::move(path)) {
    f_ = std::fopen(path_.c_str(), "w");
    if (!f_)
      throw std::runtime_error(fmt::format("cannot write {}: {}", path_, std::strerror(errno)));
  }
  ~OutputFile() {
    if (f_) std::fclose(f_);
  }
  OutputFile(OutputFile&& o) noexcept
      : path_(std::move(o.path_)), f_(std::exchange(o.f_, nullptr)) {}
  OutputFile& operator=(OutputFile&& o) noexcept {
    std::swap(path_, o.path_);
    std::swap(f_, o.f_);
    return *this;
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  explicit operator bool() const { return f_ != nullptr; }
  const std::string& path() const { return path_; }

  template <typename... Args>
  void print(fmt::format_string<Args...> format, Args&&... args) {
    if (f_) fmt::print(f_, format, std::forward<Args>(args)...);
  }

  // Hands what was printed to the system now (a row stays even if a later one crashes).
  void flush() {
    if (f_) std::fflush(f_);
  }

  // Closes the file; throws naming it when what was printed did not all reach it.
  void close() {
    if (!f_) return;
    const bool failed = std::ferror(f_) != 0;
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (failed || !closed) throw std::runtime_error(fmt::format("writing {} failed", path_));
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

// The main() of a benchmark: runs body; an exception ends it with its message and exit status 1.
template <typename Body>
int guarded_main(const char* name, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  }
}

// s as a JSON string: in double quotes, with quotes, backslashes and control characters escaped.
inline std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// s as a CSV field: in double quotes, with its quotes doubled.
inline std::string csv_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace nsal::bench
