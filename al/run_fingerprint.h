// What a run started from, kept so that a resume cannot silently mix two experiments:
// RUN/fingerprint.json records the SHA-256 of the run's configuration (as config.toml writes it,
// without `device` and `threads`, which say where it runs, not what it computes) and of the
// dataset: the content checksums stored with its arrays (the ones `nsal data info --verify`
// checks) and its metadata (task, classes and their names, normalisation, target statistics,
// image sizes). A resume whose configuration was edited, or whose dataset file now holds other
// data, is refused, naming what changed. Runs written before the fingerprint existed resume
// without the check.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "al/run_config.h"

namespace nsal::al {

// {"config_sha256": ..., "dataset": path, "dataset_sha256": {"train/x": ..., "train/y": ...,
// "test/x": ..., "test/y": ..., "metadata": ...}} (arrays without a stored checksum are left out).
nlohmann::json run_fingerprint(const RunConfig& cfg);

// Writes RUN/fingerprint.json (atomically) for a run that starts.
void write_run_fingerprint(const std::string& run_dir, const RunConfig& cfg);

// On resume: compares RUN/fingerprint.json, when there is one, with the configuration and the
// dataset as they are now; throws Error naming what changed.
void check_run_fingerprint(const std::string& run_dir, const RunConfig& cfg);

}  // namespace nsal::al
