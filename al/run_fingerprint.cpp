#include "al/run_fingerprint.h"

#include <fmt/format.h>

#include <filesystem>

#include "al/atomic_file.h"
#include "al/environment.h"
#include "data/dataset.h"
#include "data/dataset_summary.h"
#include "data/sha256.h"
#include "kernels/error.h"
#include "nn/hdf5.h"

namespace nsal::al {

namespace {

std::string sha256_of(const std::string& text) {
  return data::sha256_hex(text.data(), text.size());
}

// What the dataset file says besides its arrays, as far as it changes what a run computes.
std::string dataset_metadata(const std::string& path) {
  const data::DatasetInfo i = data::read_info(path);
  const nlohmann::json m = {{"task", data::task_name(i.task)},
                            {"num_classes", i.num_classes},
                            {"class_names", i.class_names},
                            {"mean", i.mean},
                            {"std", i.std},
                            {"target_mean", i.target_mean},
                            {"target_std", i.target_std},
                            {"ignore_index", i.ignore_index},
                            {"resize", i.resize},
                            {"crop", i.crop}};
  return m.dump();
}

// Images kept as files: the dataset stores only their paths, so this hashes each path with the
// file's size in bytes (one stat per image; -1 for a missing file). The contents are not read:
// that would mean reading the whole image collection at every start and resume, so an image
// replaced by one of exactly the same size goes unnoticed.
std::string image_files_sha256(const std::string& image_root,
                               const std::vector<std::string>& files) {
  data::Sha256 h;
  for (const std::string& rel : files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(image_root + "/" + rel, ec);
    const std::string line =
        fmt::format("{}\t{}\n", rel, ec ? int64_t{-1} : static_cast<int64_t>(size));
    h.update(line.data(), line.size());
  }
  return h.hex();
}

std::string what_changed(const std::string& key) {
  if (key == "metadata") return "the metadata (classes, normalisation, sizes)";
  if (key.size() > 6 && key.compare(key.size() - 6, 6, "/files") == 0)
    return "/" + key + " (the image files' paths or sizes)";
  return "/" + key;
}

}  // namespace

nlohmann::json run_fingerprint(const RunConfig& cfg) {
  RunConfig what = cfg;  // where it runs is not what it computes
  what.device = RunConfig().device;
  what.threads = RunConfig().threads;
  // The checksums the dataset writer stored with each array, once the arrays are read back and
  // found to match them (an array edited in place, by h5py say, keeps its old checksum), and for
  // images kept as files, their paths and sizes.
  nlohmann::json sums = nlohmann::json::object();
  h5::File f = h5::File::open(cfg.dataset);
  const std::string image_root = data::read_info(cfg.dataset).image_root;
  for (const std::string& split : data::list_splits(cfg.dataset)) {
    h5::Group g = f.open_group(split);
    for (const char* array : {"x", "y"}) {
      if (!g.exists(array)) continue;
      h5::Dataset d = g.open_dataset(array);
      if (!d.has_attr("sha256")) continue;
      const std::string stored = d.get_string("sha256");
      NSAL_CHECK_AS(DataError, data::array_sha256(d) == stored,
                    "{}: {} no longer matches the checksum stored when the file was written "
                    "(sha256 {}): it was edited in place; convert the data again (nsal data info "
                    "--verify checks a file)",
                    cfg.dataset, d.path(), stored);
      sums[split + "/" + array] = stored;
    }
    if (g.exists("files")) {
      sums[split + "/files"] = image_files_sha256(image_root, g.read_strings("files"));
    }
  }
  sums["metadata"] = sha256_of(dataset_metadata(cfg.dataset));
  return {{"config_sha256", sha256_of(to_toml(what))},
          {"dataset", cfg.dataset},
          {"dataset_sha256", sums}};
}

void write_run_fingerprint(const std::string& run_dir, const RunConfig& cfg) {
  write_file_atomic(run_dir + "/fingerprint.json", run_fingerprint(cfg).dump(2) + "\n");
}

void check_run_fingerprint(const std::string& run_dir, const RunConfig& cfg) {
  const std::string path = run_dir + "/fingerprint.json";
  if (!file_exists(path)) {
    // A run from before fingerprints has none; one started since (its environment.jsonl has a
    // start record, which came with them) has lost it, and nothing can check what changed.
    if (run_started_device(run_dir))
      fmt::print(stderr,
                 "warning: {}: missing; the configuration and dataset cannot be checked against "
                 "the ones the run started with\n",
                 path);
    return;
  }
  std::string config_was;
  std::map<std::string, std::string> data_was;
  try {
    const nlohmann::json was = nlohmann::json::parse(read_file(path));
    config_was = was.at("config_sha256").get<std::string>();
    data_was = was.at("dataset_sha256").get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: not a run fingerprint: {}", path, e.what()));
  }
  const nlohmann::json now = run_fingerprint(cfg);
  NSAL_CHECK(config_was == now["config_sha256"],
             "{}/config.toml: changed since the run started (only device and threads may); a "
             "resumed run goes on with the configuration it began with: put that back, or start "
             "a new run for the new one",
             run_dir);
  const auto sums = now["dataset_sha256"].get<std::map<std::string, std::string>>();
  for (const auto& [what, sum] : data_was) {
    const auto it = sums.find(what);
    NSAL_CHECK(it != sums.end() && it->second == sum,
               "{}: {} is not what this run started with (sha256 {}, recorded {} in {}); resume "
               "with the original dataset file",
               cfg.dataset, what_changed(what), it == sums.end() ? "none" : it->second, sum, path);
  }
}

}  // namespace nsal::al
