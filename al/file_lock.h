// An exclusive flock(2) on a file, held for the object's lifetime; the kernel drops it when the
// process ends, killed or not. One label import at a time per run (waits), one process per run
// directory (refuses the second).
#pragma once

#include <string>

namespace nsal::al {

class FileLock {
 public:
  enum class Wait { block, refuse };
  // refuse: throws Error(busy_message) when another process holds the lock. On a filesystem
  // without flock (ENOSYS, EOPNOTSUPP, ENOLCK) it says so on stderr and goes on unlocked.
  FileLock(const std::string& path, Wait wait, const std::string& busy_message = "");
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace nsal::al
