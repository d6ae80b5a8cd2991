// What a run started from, kept so that a resume cannot silently mix two experiments:
// RUN/fingerprint.json records the SHA-256 of RUN/config.toml as written at the start and the
// content checksums of the dataset's arrays (the ones `nsal data info --verify` checks). A resume
// whose config.toml was edited, or whose dataset file now holds other data, is refused, naming
// the file. Runs written before the fingerprint existed resume without the check.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace nsal::al {

// {"config_sha256": ..., "dataset": path, "dataset_sha256": {"train/x": ..., "train/y": ...,
// "test/x": ..., "test/y": ...}} (arrays without a stored checksum are left out).
nlohmann::json run_fingerprint(const std::string& run_dir, const std::string& dataset);

// Writes RUN/fingerprint.json (atomically) for a run that starts.
void write_run_fingerprint(const std::string& run_dir, const std::string& dataset);

// On resume: compares RUN/fingerprint.json, when there is one, with the run directory and
// dataset as they are now; throws Error naming what changed.
void check_run_fingerprint(const std::string& run_dir, const std::string& dataset);

// Holds an exclusive lock on RUN/run.lock while a process works on the run directory; the
// kernel drops it when the process ends, killed or not. A second process is refused.
class RunLock {
 public:
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace nsal::al
