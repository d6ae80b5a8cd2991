#include "apps/nsal/command.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

namespace nsal::app {

static std::map<std::string, CommandSetup>& registry() {
  static std::map<std::string, CommandSetup> r;
  return r;
}

CommandRegistrar::CommandRegistrar(const std::string& name, CommandSetup setup) {
  registry()[name] = std::move(setup);
}

void setup_all_commands(CLI::App& app) {
  for (auto& [name, setup] : registry())
    setup(app);
}

CLI::Validator at_least(long long min) {
  return CLI::Validator(
      [min](std::string& v) -> std::string {
        errno = 0;
        char* end = nullptr;
        const long long n = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || errno == ERANGE || n < min)
          return fmt::format("expected an integer >= {}, got '{}'", min, v);
        return {};
      },
      fmt::format("INT>={}", min));
}

CLI::Validator finite_positive(bool zero_allowed) {
  const char* bound = zero_allowed ? ">= 0" : "> 0";
  return CLI::Validator(
      [zero_allowed, bound](std::string& v) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !std::isfinite(x) || x < 0 || (x == 0 && !zero_allowed))
          return fmt::format("expected a finite number {}, got '{}'", bound, v);
        return {};
      },
      std::string("NUMBER") + (zero_allowed ? ">=0" : ">0"));
}

}  // namespace nsal::app
