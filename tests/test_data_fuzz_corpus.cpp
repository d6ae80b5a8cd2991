// Replays tests/fuzz_corpus/<target>/ (the fuzzers' seeds and every crashing input they ever
// found) through the parsers' fuzz entry points: each must end normally or with nsal::Error.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/fuzz_entry.h"
#include "tests/test_data_util.h"

namespace nsal::data {

TEST(DataFuzzCorpus, EveryKeptInputIsHandled) {
  std::filesystem::path root = std::filesystem::path(NSAL_SOURCE_DIR) / "tests" / "fuzz_corpus";
  ASSERT_TRUE(std::filesystem::is_directory(root)) << root;
  for (const FuzzTarget& t : fuzz_targets()) {
    std::filesystem::path dir = root / t.name;
    int files = 0;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << "no corpus for fuzz target " << t.name;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      std::vector<uint8_t> bytes = nsal::testing::read_bytes(e.path().string());
      SCOPED_TRACE(e.path().string());
      EXPECT_NO_THROW(t.fn(bytes.data(), bytes.size()));
      // Truncations of each input take the error paths.
      for (size_t cut : {bytes.size() / 2, bytes.size() / 3, size_t(7)})
        if (cut < bytes.size()) {
          EXPECT_NO_THROW(t.fn(bytes.data(), cut));
        }
      ++files;
    }
    EXPECT_GT(files, 0) << "empty corpus for fuzz target " << t.name;
  }
}

}  // namespace nsal::data
