// Whole files into memory, gzip-transparent, with errors that name the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nsal::data {

constexpr size_t kMaxInflatedBytes = size_t(16) << 30;  // refuse to inflate past 16 GiB

// The file's bytes. When `gunzip` and the file starts with the gzip magic (1f 8b) it is
// decompressed; a truncated or corrupt stream is a DataError naming the file.
std::vector<uint8_t> read_file(const std::string& path, bool gunzip = true);

// The first (up to) n bytes of a file, unprocessed.
std::vector<uint8_t> read_head(const std::string& path, size_t n);

// Decompresses a gzip stream (one or more members) held in memory; `name` is used in errors.
std::vector<uint8_t> gunzip_bytes(const uint8_t* data, size_t n, const std::string& name,
                                  size_t max_out = kMaxInflatedBytes);

bool is_gzip(const uint8_t* data, size_t n);

// Last path component ("a/b/c.gz" -> "c.gz").
std::string base_name(const std::string& path);

}  // namespace nsal::data
