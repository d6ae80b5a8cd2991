// Progress display: on a terminal one line rewritten in place (carriage return), otherwise
// plain lines at a modest rate, so logs stay readable. Writes to stderr.
#pragma once

#include <chrono>
#include <string>

namespace nsal::al {

class Progress {
 public:
  // quiet: print nothing. Decides terminal or not from stderr.
  explicit Progress(bool quiet = false);
  // A transient status ("epoch 3/10  loss 0.412  1830 img/s  ETA 12s"); rate-limited.
  void update(const std::string& line);
  // A line that stays (ends any transient one).
  void line(const std::string& text);
  bool is_terminal() const { return tty_; }

 private:
  bool quiet_, tty_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_;
};

// "12s", "3m05s", "1h02m"
std::string format_duration(double seconds);

}  // namespace nsal::al
