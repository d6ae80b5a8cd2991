#include "al/run_fingerprint.h"

#include <fmt/format.h>

#include "al/atomic_file.h"
#include "data/dataset.h"
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

}  // namespace

nlohmann::json run_fingerprint(const RunConfig& cfg) {
  RunConfig what = cfg;  // where it runs is not what it computes
  what.device = RunConfig().device;
  what.threads = RunConfig().threads;
  // The checksums the dataset writer stored with each array (attributes only: nothing is read).
  nlohmann::json sums = nlohmann::json::object();
  h5::File f = h5::File::open(cfg.dataset);
  for (const std::string& split : data::list_splits(cfg.dataset)) {
    h5::Group g = f.open_group(split);
    for (const char* array : {"x", "y"}) {
      if (!g.exists(array)) continue;
      h5::Dataset d = g.open_dataset(array);
      if (d.has_attr("sha256")) sums[split + "/" + array] = d.get_string("sha256");
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
  if (!file_exists(path)) return;  // a run from before fingerprints
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
               cfg.dataset,
               what == "metadata" ? "the metadata (classes, normalisation, sizes)" : "/" + what,
               it == sums.end() ? "none" : it->second, sum, path);
  }
}

}  // namespace nsal::al
