#include "al/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace nsal::al {

Progress::Progress(bool quiet)
    : quiet_(quiet), tty_(isatty(fileno(stderr)) != 0), last_(std::chrono::steady_clock::now()) {}

void Progress::update(const std::string& text) {
  if (quiet_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_).count();
  if (tty_) {
    if (since < 0.1 && dirty_) return;
    fmt::print(stderr, "\r\033[K{}", text);
    std::fflush(stderr);
    dirty_ = true;
  } else {
    if (since < 10.0) return;
    fmt::print(stderr, "{}\n", text);
  }
  last_ = now;
}

void Progress::line(const std::string& text) {
  if (quiet_) return;
  if (tty_ && dirty_) fmt::print(stderr, "\r\033[K");
  dirty_ = false;
  fmt::print(stderr, "{}\n", text);
  last_ = std::chrono::steady_clock::now();
}

std::string format_duration(double s) {
  if (s < 0) s = 0;
  long t = static_cast<long>(s + 0.5);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02d}s", t / 60, static_cast<int>(t % 60));
  return fmt::format("{}h{:02d}m", t / 3600, static_cast<int>((t % 3600) / 60));
}

}  // namespace nsal::al
