// SHA-256 (FIPS 180-4), streaming. Used for the source checksums stored in dataset files and
// the content checksums of their arrays; the hex digest matches `sha256sum`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace nsal::data {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::array<uint8_t, 32> digest();  // finishes; the object must not be updated afterwards
  std::string hex();                 // digest() as 64 lowercase hex digits

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
  bool done_ = false;
};

std::string sha256_hex(const void* data, size_t n);
// Checksum of a file's bytes as stored (a .gz is hashed compressed, like sha256sum does).
std::string sha256_file(const std::string& path);

}  // namespace nsal::data
