// The ready-made configs in configs/ parse and validate; the configuration documented in
// docs/cli.md is the code's defaults.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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
    EXPECT_TRUE(unused_settings(c).empty()) << unused_settings(c).front();
    ++n;
  }
  EXPECT_GE(n, 3);
}

// docs/cli.md lists every field of a run configuration at its default: parsed, it must resolve
// to exactly what a default RunConfig (with that dataset) resolves to.
TEST(Configs, TheDocumentedConfigurationIsTheDefaults) {
  std::ifstream in(std::string(NSAL_SOURCE_DIR) + "/docs/cli.md");
  ASSERT_TRUE(in) << "docs/cli.md";
  std::stringstream text;
  text << in.rdbuf();
  const std::string md = text.str();
  const size_t open = md.find("```toml\n", md.find("## `nsal run`"));
  ASSERT_NE(open, std::string::npos) << "no toml block in docs/cli.md";
  const size_t start = open + 8, end = md.find("```", start);
  ASSERT_NE(end, std::string::npos);
  const RunConfig documented = parse_run_config(md.substr(start, end - start), "docs/cli.md");
  RunConfig defaults;
  defaults.dataset = documented.dataset;
  EXPECT_EQ(to_toml(documented), to_toml(defaults));
}

}  // namespace nsal::al
