#include "al/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernels/error.h"
#include "nn/kill_point.h"

namespace nsal::al {

void write_file_atomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  NSAL_CHECK(fd >= 0, "{}: cannot create: {}", tmp, std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t w = ::write(fd, content.data() + done, content.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      ::close(fd);
      throw Error(fmt::format("{}: write failed: {}", tmp, std::strerror(e)));
    }
    done += static_cast<size_t>(w);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  NSAL_CHECK(synced, "{}: fsync failed: {}", tmp, std::strerror(errno));
  kill_point("atomic-write");  // the temp file is complete, the rename has not happened
  NSAL_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, "{}: cannot rename {} into place: {}", path,
             tmp, std::strerror(errno));
  // Make the rename itself durable.
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NSAL_CHECK(f.good(), "{}: cannot open", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  return std::filesystem::exists(path);
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  NSAL_CHECK(!ec, "{}: cannot create the directory: {}", path, ec.message());
}

void write_indices(const std::string& path, const std::vector<int64_t>& idx) {
  std::string s;
  s.reserve(idx.size() * 7);
  for (int64_t i : idx)
    s += std::to_string(i) + "\n";
  write_file_atomic(path, s);
}

std::vector<int64_t> read_indices(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<int64_t> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF line ends
    if (line.empty()) continue;
    try {
      size_t used = 0;
      long long v = std::stoll(line, &used);
      if (used != line.size() || v < 0) throw std::invalid_argument(line);
      out.push_back(v);
    } catch (const std::exception&) {
      throw DataError(
          fmt::format("{}:{}: expected a non-negative sample index, got '{}'", path, n, line));
    }
  }
  return out;
}

}  // namespace nsal::al
