// The ready-made configs in configs/ parse and validate.
#include <gtest/gtest.h>

#include <filesystem>

#include "al/run_config.h"

namespace nsal::al {

TEST(Configs, EveryShippedConfigIsValid) {
  int n = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(NSAL_SOURCE_DIR) + "/configs")) {
    if (e.path().extension() != ".toml") continue;
    SCOPED_TRACE(e.path().string());
    RunConfig c = load_run_config(e.path().string());
    EXPECT_FALSE(c.dataset.empty());
    EXPECT_FALSE(c.strategies.empty());
    ++n;
  }
  EXPECT_GE(n, 3);
}

}  // namespace nsal::al
