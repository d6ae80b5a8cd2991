// nsal: deep active learning with noise stability. Thin: parses, then calls al/ nn/ data/.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <string>

#include "apps/nsal/command.h"
#include "kernels/error.h"

int main(int argc, char** argv) {
  CLI::App app{"nsal: deep active learning with noise stability", "nsal"};
  app.set_version_flag("--version", std::string("nsal ") + NSAL_VERSION);
  app.require_subcommand(1);
  nsal::app::setup_all_commands(app);
  if (argc >= 2 && argv[1][0] != '-') {  // a first word that names no command
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      fmt::print(stderr, "nsal: error: unknown command '{}' (commands: {})\n", argv[1], names);
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A wrong command line: the same form as every other error, and exit status 2.
    fmt::print(stderr, "nsal: error: {}\nRun with --help for more information.\n", e.what());
    return 2;
  } catch (const nsal::Error& e) {
    fmt::print(stderr, "nsal: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "nsal: unexpected error: {}\n", e.what());
    return 1;
  }
  return 0;
}
