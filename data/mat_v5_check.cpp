#include "data/mat_v5_check.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <vector>

#include "kernels/error.h"

namespace nsal::data {

namespace {

constexpr uint32_t kMiInt32 = 5, kMiUint32 = 6, kMiMatrix = 14, kMiCompressed = 15;
constexpr uint64_t kZlibMaxRatio = 1032;  // deflate cannot expand data more than this

struct Reader {
  const std::string& path;
  bool swap = false;
  uint32_t u32(const uint8_t* p) const {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
  }
};

// Checks a miMATRIX element's body (after its tag): array flags, dimensions and name, each
// within `size` bytes, and a numeric array's element count within `size` bytes.
void check_matrix(const Reader& r, const uint8_t* body, uint64_t avail, uint64_t size,
                  uint64_t offset) {
  auto fail = [&](const std::string& what) {
    throw DataError(
        fmt::format("{}: corrupt .mat file: the array at byte {} {}", r.path, offset, what));
  };
  if (size == 0) return;  // an empty placeholder
  uint64_t pos = 0;
  // Reads one sub-element tag at pos; returns its type and byte count, moving pos to the data.
  auto sub = [&](uint32_t& type, uint64_t& bytes) {
    if (pos + 8 > avail) return false;
    uint32_t t = r.u32(body + pos);
    if (t >> 16) {  // small element: type and count in the first word, data in the second
      type = t & 0xffff;
      bytes = t >> 16;
      pos += 4;
      if (bytes > 4) fail("has a small sub-element of more than 4 bytes");
    } else {
      type = t;
      bytes = r.u32(body + pos + 4);
      pos += 8;
    }
    if (pos + bytes > size) fail(fmt::format("has a sub-element of {} bytes past its end", bytes));
    return true;
  };
  uint32_t type = 0;
  uint64_t bytes = 0;
  if (!sub(type, bytes)) return;  // what is readable is checked; the rest is libmatio's
  if (type != kMiUint32 || bytes != 8) fail("lacks its array flags");
  if (pos + 8 > avail) return;
  const uint32_t array_class = r.u32(body + pos) & 0xff;
  pos += 8;
  if (!sub(type, bytes)) return;
  if (type != kMiInt32 || bytes < 8 || bytes % 4) fail("has malformed dimensions");
  uint64_t count = 1;
  for (uint64_t i = 0; i < bytes / 4; ++i) {
    if (pos + 4 * i + 4 > avail) return;
    int32_t d = static_cast<int32_t>(r.u32(body + pos + 4 * i));
    if (d < 0) fail(fmt::format("has a negative dimension {}", d));
    count *= static_cast<uint64_t>(d);
    if (count > size) break;
  }
  // Numeric classes (6 double .. 15 uint64, and char 4) store at least one byte per element.
  const bool numeric = array_class == 4 || (array_class >= 6 && array_class <= 15);
  if (numeric && count > size) fail(fmt::format("declares {} elements in {} bytes", count, size));
  // Cells (1), structs (2) and objects (3) hold one whole array element (an 8-byte tag at least)
  // per cell or field value, and libmatio allocates a pointer for each before reading them.
  if (array_class == 1 && count > size / 8)
    fail(fmt::format("declares {} cells in {} bytes", count, size));
  pos += (bytes + 7) / 8 * 8;  // past the dimensions
  // Past a sub-element's data: small elements keep theirs in the tag's second word.
  auto skip = [&](uint64_t b, bool small) { pos += small ? 4 : (b + 7) / 8 * 8; };
  auto small_at = [&](uint64_t at) { return at + 4 <= avail && (r.u32(body + at) >> 16) != 0; };
  // The array name, and an object's class name: libmatio allocates the length each declares
  // before reading it, so each must lie within the element (sub() checks).
  for (int names = array_class == 3 ? 2 : 1; names > 0; --names) {
    const bool small = small_at(pos);
    if (!sub(type, bytes)) return;
    skip(bytes, small);
  }
  if (array_class != 2 && array_class != 3) return;
  const bool small = small_at(pos);
  if (!sub(type, bytes) || pos + 4 > avail) return;
  const uint64_t name_len = r.u32(body + pos);  // field name length
  skip(bytes, small);
  if (!sub(type, bytes)) return;
  const uint64_t fields = name_len > 0 ? bytes / name_len : 0;
  if (fields > 0 && count > size / 8 / fields)
    fail(fmt::format("declares {} elements of {} fields in {} bytes", count, fields, size));
}

}  // namespace

void check_mat_v5_layout(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NSAL_CHECK_AS(DataError, f.good(), "{}: cannot open", path);
  f.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  uint8_t header[128];
  if (file_size < 128 || !f.read(reinterpret_cast<char*>(header), 128)) return;
  const uint16_t version = static_cast<uint16_t>(header[124] | header[125] << 8);
  Reader r{path};
  if (header[126] == 'I' && header[127] == 'M') {
    r.swap = false;
  } else if (header[126] == 'M' && header[127] == 'I') {
    r.swap = true;
  } else {
    return;  // not v5 (v4 has no such header)
  }
  const uint16_t v = r.swap ? static_cast<uint16_t>(version >> 8 | version << 8) : version;
  if (v != 0x0100) return;  // 0x0200 is v7.3, an HDF5 file

  uint64_t offset = 128;
  std::vector<uint8_t> stored, body;
  while (offset + 8 <= file_size) {
    uint8_t tag[8];
    f.seekg(static_cast<std::streamoff>(offset));
    if (!f.read(reinterpret_cast<char*>(tag), 8)) break;
    uint32_t type = r.u32(tag);
    uint64_t bytes = r.u32(tag + 4);
    if (type >> 16) {  // a small element at the top level: 8 bytes in all
      offset += 8;
      continue;
    }
    const uint64_t left = file_size - offset - 8;
    NSAL_CHECK_AS(DataError, bytes <= left,
                  "{}: corrupt .mat file: the element at byte {} declares {} bytes, the file "
                  "holds {} more",
                  path, offset, bytes, left);
    if (type == kMiMatrix) {
      body.resize(static_cast<size_t>(std::min<uint64_t>(bytes, 4096)));
      f.read(reinterpret_cast<char*>(body.data()), static_cast<std::streamsize>(body.size()));
      check_matrix(r, body.data(), body.size(), bytes, offset);
    } else if (type == kMiCompressed) {
      // Inflate the start of the stream: the inner element's tag and the array's header.
      stored.resize(static_cast<size_t>(std::min<uint64_t>(bytes, 65536)));
      f.read(reinterpret_cast<char*>(stored.data()), static_cast<std::streamsize>(stored.size()));
      body.assign(4096 + 8, 0);
      z_stream z{};
      if (inflateInit(&z) == Z_OK) {
        z.next_in = stored.data();
        z.avail_in = static_cast<uInt>(stored.size());
        z.next_out = body.data();
        z.avail_out = static_cast<uInt>(body.size());
        inflate(&z, Z_SYNC_FLUSH);
        const uint64_t got = body.size() - z.avail_out;
        inflateEnd(&z);
        if (got >= 8) {
          const uint32_t inner = r.u32(body.data());
          const uint64_t inner_bytes = r.u32(body.data() + 4);
          const uint64_t limit = bytes * kZlibMaxRatio + 64;
          NSAL_CHECK_AS(DataError, inner >> 16 || inner_bytes <= limit,
                        "{}: corrupt .mat file: the compressed element at byte {} declares {} "
                        "bytes, more than its {} stored bytes can hold",
                        path, offset, inner_bytes, bytes);
          if (inner == kMiMatrix) check_matrix(r, body.data() + 8, got - 8, inner_bytes, offset);
        }
      }
    }
    offset += 8 + bytes;
    if (type != kMiCompressed) offset = (offset + 7) / 8 * 8;  // uncompressed elements align
  }
}

}  // namespace nsal::data
