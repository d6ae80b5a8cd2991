#include "al/file_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kernels/error.h"

namespace nsal::al {

FileLock::FileLock(const std::string& path, Wait wait, const std::string& busy_message) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  NSAL_CHECK(fd_ >= 0, "{}: cannot open the lock file: {}", path, std::strerror(errno));
  const int op = LOCK_EX | (wait == Wait::refuse ? LOCK_NB : 0);
  for (;;) {
    if (::flock(fd_, op) == 0) return;
    const int err = errno;
    if (err == EINTR) continue;
    if (err == ENOSYS || err == EOPNOTSUPP || err == ENOLCK) {
      fmt::print(stderr,
                 "nsal: warning: {}: this filesystem has no flock ({}); going on unlocked\n", path,
                 std::strerror(err));
      return;
    }
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error(busy_message.empty() ? path + ": locked by another process" : busy_message);
    throw Error(fmt::format("{}: cannot lock: {}", path, std::strerror(err)));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the lock
}

}  // namespace nsal::al
