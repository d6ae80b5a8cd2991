#include "al/run_fingerprint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "al/atomic_file.h"
#include "data/dataset.h"
#include "data/sha256.h"
#include "kernels/error.h"
#include "nn/hdf5.h"

namespace nsal::al {

namespace {

std::string file_sha256(const std::string& path) {
  const std::string text = read_file(path);
  return data::sha256_hex(text.data(), text.size());
}

}  // namespace

nlohmann::json run_fingerprint(const std::string& run_dir, const std::string& dataset) {
  // The checksums the dataset writer stored with each array (attributes only: nothing is read).
  nlohmann::json sums = nlohmann::json::object();
  h5::File f = h5::File::open(dataset);
  for (const std::string& split : data::list_splits(dataset)) {
    h5::Group g = f.open_group(split);
    for (const char* array : {"x", "y"}) {
      if (!g.exists(array)) continue;
      h5::Dataset d = g.open_dataset(array);
      if (d.has_attr("sha256")) sums[split + "/" + array] = d.get_string("sha256");
    }
  }
  return {{"config_sha256", file_sha256(run_dir + "/config.toml")},
          {"dataset", dataset},
          {"dataset_sha256", sums}};
}

void write_run_fingerprint(const std::string& run_dir, const std::string& dataset) {
  write_file_atomic(run_dir + "/fingerprint.json",
                    run_fingerprint(run_dir, dataset).dump(2) + "\n");
}

void check_run_fingerprint(const std::string& run_dir, const std::string& dataset) {
  const std::string path = run_dir + "/fingerprint.json";
  if (!file_exists(path)) return;  // a run from before fingerprints
  nlohmann::json was;
  try {
    was = nlohmann::json::parse(read_file(path));
    (void)was.at("config_sha256").get<std::string>();
    (void)was.at("dataset_sha256").get<nlohmann::json::object_t>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: not a run fingerprint: {}", path, e.what()));
  }
  const nlohmann::json now = run_fingerprint(run_dir, dataset);
  NSAL_CHECK(was["config_sha256"] == now["config_sha256"],
             "{}/config.toml: changed since the run started (sha256 {}, recorded {}); a resumed "
             "run goes on with the configuration it began with: put that back, or start a new "
             "run for the new one",
             run_dir, now["config_sha256"].get<std::string>(),
             was["config_sha256"].get<std::string>());
  for (const auto& [array, sum] : was["dataset_sha256"].items()) {
    const auto it = now["dataset_sha256"].find(array);
    NSAL_CHECK(it != now["dataset_sha256"].end() && *it == sum,
               "{}: /{} is not the data this run started with (sha256 {}, recorded {} in {}); "
               "resume with the original dataset file",
               dataset, array, it == now["dataset_sha256"].end() ? "none" : it->get<std::string>(),
               sum.get<std::string>(), path);
  }
}

RunLock::RunLock(const std::string& run_dir) {
  const std::string path = run_dir + "/run.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  NSAL_CHECK(fd_ >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    NSAL_CHECK(err != EWOULDBLOCK,
               "{}: another nsal process is working on this run directory; wait for it to end "
               "(or stop it) before resuming",
               run_dir);
    throw Error(fmt::format("{}: cannot lock: {}", path, std::strerror(err)));
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the lock
}

}  // namespace nsal::al
