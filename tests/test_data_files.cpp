#include <gtest/gtest.h>

#include <string>

#include "data/file_bytes.h"
#include "data/sha256.h"
#include "kernels/error.h"
#include "tests/test_data_util.h"

namespace nsal::data {

using nsal::testing::TempDir;

TEST(DataSha256, KnownAnswers) {
  // FIPS 180-4 examples and the empty string.
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(two.data(), two.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in uneven pieces: exercises the buffering across blocks.
  Sha256 h;
  std::string a(1001, 'a');
  for (int i = 0; i < 1000; ++i)
    h.update(a.data(), i % 2 ? 999 : 1001);
  EXPECT_EQ(h.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(DataSha256, FileChecksumMatchesSha256sum) {
  TempDir dir;
  nsal::testing::write_text(dir / "f.txt", "abc");
  EXPECT_EQ(sha256_file(dir / "f.txt"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(sha256_file(dir / "missing"), DataError);
}

TEST(DataFileBytes, PlainAndGzipFilesReadTheSame) {
  TempDir dir;
  std::vector<uint8_t> bytes(100000);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<uint8_t>(i * 31 % 253);
  nsal::testing::write_bytes(dir / "plain", bytes);
  nsal::testing::write_gzip(dir / "packed.gz", bytes);
  EXPECT_EQ(read_file(dir / "plain"), bytes);
  EXPECT_EQ(read_file(dir / "packed.gz"), bytes);
  EXPECT_NE(read_file(dir / "packed.gz", false), bytes);
  // Two concatenated gzip members decompress to both payloads.
  auto g = nsal::testing::read_bytes(dir / "packed.gz");
  auto gg = g;
  gg.insert(gg.end(), g.begin(), g.end());
  auto both = bytes;
  both.insert(both.end(), bytes.begin(), bytes.end());
  EXPECT_EQ(gunzip_bytes(gg.data(), gg.size(), "two"), both);
}

TEST(DataFileBytes, TruncatedAndCorruptGzipNameTheFile) {
  TempDir dir;
  std::vector<uint8_t> bytes(50000, 7);
  for (size_t i = 0; i < bytes.size(); i += 3)
    bytes[i] = static_cast<uint8_t>(i);
  nsal::testing::write_gzip(dir / "a.gz", bytes);
  auto g = nsal::testing::read_bytes(dir / "a.gz");
  auto cut = g;
  cut.resize(g.size() / 2);
  nsal::testing::write_bytes(dir / "cut.gz", cut);
  try {
    read_file(dir / "cut.gz");
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.gz: truncated gzip stream"), std::string::npos)
        << e.what();
  }
  auto bad = g;
  bad[g.size() / 2] ^= 0xff;
  bad[g.size() / 2 + 1] ^= 0x55;
  nsal::testing::write_bytes(dir / "bad.gz", bad);
  try {
    read_file(dir / "bad.gz");
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.gz: corrupt gzip stream"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(read_file(dir / "nothing"), DataError);
  // A stream that inflates past the limit is refused.
  EXPECT_THROW(gunzip_bytes(g.data(), g.size(), "big", 1000), DataError);
}

}  // namespace nsal::data
