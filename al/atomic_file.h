// Files that appear whole or not at all: written to "<path>.tmp", flushed to disk, then renamed
// over <path>. A process killed at any point leaves either the old file or the new one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nsal::al {

void write_file_atomic(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);  // throws naming the path
bool file_exists(const std::string& path);
void make_dirs(const std::string& path);

// One integer per line; errors name the file and line.
void write_indices(const std::string& path, const std::vector<int64_t>& idx);
std::vector<int64_t> read_indices(const std::string& path);

}  // namespace nsal::al
