#include "data/file_bytes.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "kernels/error.h"

namespace nsal::data {

bool is_gzip(const uint8_t* data, size_t n) {
  return n >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

std::string base_name(const std::string& path) {
  size_t p = path.find_last_of('/');
  return p == std::string::npos ? path : path.substr(p + 1);
}

std::vector<uint8_t> read_file(const std::string& path, bool gunzip) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  NSAL_CHECK_AS(DataError, f != nullptr, "{}: cannot open: {}", path, std::strerror(errno));
  std::vector<uint8_t> bytes;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    long size = std::ftell(f.get());
    if (size > 0) bytes.reserve(static_cast<size_t>(size));
    std::rewind(f.get());
  }
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0)
    bytes.insert(bytes.end(), buf, buf + n);
  NSAL_CHECK_AS(DataError, !std::ferror(f.get()), "{}: read error: {}", path, std::strerror(errno));
  if (gunzip && is_gzip(bytes.data(), bytes.size()))
    return gunzip_bytes(bytes.data(), bytes.size(), path);
  return bytes;
}

std::vector<uint8_t> read_head(const std::string& path, size_t n) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  NSAL_CHECK_AS(DataError, f != nullptr, "{}: cannot open: {}", path, std::strerror(errno));
  std::vector<uint8_t> bytes(n);
  bytes.resize(std::fread(bytes.data(), 1, n, f.get()));
  return bytes;
}

std::vector<uint8_t> gunzip_bytes(const uint8_t* data, size_t n, const std::string& name,
                                  size_t max_out) {
  std::vector<uint8_t> out;
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw DataError(name + ": cannot start zlib");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
  uint8_t buf[1 << 16];
  for (;;) {
    z.next_out = buf;
    z.avail_out = sizeof buf;
    int r = inflate(&z, Z_NO_FLUSH);
    out.insert(out.end(), buf, buf + (sizeof buf - z.avail_out));
    NSAL_CHECK_AS(DataError, out.size() <= max_out,
                  "{}: gzip stream inflates past {} bytes; refusing", name, max_out);
    if (r == Z_STREAM_END) {
      size_t used = static_cast<size_t>(z.next_in - data);
      // Another member may follow (gzip files can be concatenated); trailing zeros are padding.
      size_t rest = n - used;
      bool more = rest >= 2 && is_gzip(data + used, rest);
      if (!more) {
        for (size_t i = used; i < n; ++i)
          NSAL_CHECK_AS(DataError, data[i] == 0,
                        "{}: {} bytes of garbage after the end of the gzip stream", name, n - used);
        return out;
      }
      NSAL_CHECK_AS(DataError, inflateReset(&z) == Z_OK, "{}: zlib reset failed", name);
      z.next_in = const_cast<Bytef*>(data + used);
      z.avail_in = static_cast<uInt>(std::min<size_t>(rest, 1u << 30));
      continue;
    }
    if (r == Z_OK) {
      if (z.avail_in == 0) {
        size_t used = static_cast<size_t>(z.next_in - data);
        if (used == n)
          throw DataError(
              fmt::format("{}: truncated gzip stream (the data ends after {} compressed bytes, {} "
                          "decompressed)",
                          name, n, out.size()));
        z.avail_in = static_cast<uInt>(std::min<size_t>(n - used, 1u << 30));
      }
      continue;
    }
    if (r == Z_BUF_ERROR && z.avail_in == 0)
      throw DataError(fmt::format(
          "{}: truncated gzip stream (the data ends after {} compressed bytes, {} decompressed)",
          name, n, out.size()));
    throw DataError(fmt::format("{}: corrupt gzip stream: {}", name,
                                z.msg ? z.msg : "zlib error " + std::to_string(r)));
  }
}

}  // namespace nsal::data
