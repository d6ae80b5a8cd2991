// `nsal query`: scores the pool, selects N samples (top-N for the `paper` preset, k-center from
// the origin for `released`) and writes their indices; --export writes them for annotation.
#include <fmt/core.h>

#include <chrono>

#include "al/atomic_file.h"
#include "al/strategy.h"
#include "apps/nsal/command.h"
#include "apps/nsal/scoring_options.h"
#include "data/image.h"

namespace nsal::app {

namespace {
// PNG files of the chosen samples (2-D images with 1 or 3 channels, in [0, 1] units) and a CSV
// with an empty label column for the annotator.
void export_for_annotation(const data::Dataset& d, const std::vector<int64_t>& chosen,
                           const std::string& dir) {
  al::make_dirs(dir);
  Shape s = d.sample_shape();
  bool images = !d.images_as_files() && s.size() == 3 && (s[0] == 1 || s[0] == 3);
  std::string csv = "index,file,label\n";
  for (int64_t idx : chosen) {
    std::string file;
    if (images) {
      data::Image img;
      img.channels = static_cast<int>(s[0]);
      img.height = static_cast<int>(s[1]);
      img.width = static_cast<int>(s[2]);
      img.pixels.resize(static_cast<size_t>(s[0] * s[1] * s[2]));
      const int64_t plane = s[1] * s[2];
      for (int64_t c = 0; c < s[0]; ++c)
        for (int64_t p = 0; p < plane; ++p) {
          double v = d.x.dtype() == DType::u8
                         ? d.x.data<uint8_t>()[idx * s[0] * plane + c * plane + p]
                         : 255.0 * d.x.data<float>()[idx * s[0] * plane + c * plane + p];
          img.pixels[static_cast<size_t>(p * s[0] + c)] =
              static_cast<uint8_t>(std::min(255.0, std::max(0.0, v + 0.5)));
        }
      file = fmt::format("{}.png", idx);
      std::vector<uint8_t> png = data::encode_png(img);
      al::write_file_atomic(dir + "/" + file, std::string(png.begin(), png.end()));
    } else if (d.images_as_files()) {
      file = d.image_root + "/" + d.files[static_cast<size_t>(idx)];
    }
    csv += fmt::format("{},{},\n", idx, file);
  }
  al::write_file_atomic(dir + "/labels.csv", csv);
}
}  // namespace

static CommandRegistrar reg("query", [](CLI::App& app) {
  struct Args : ScoringArgs {
    int64_t n = 0;
    std::string out, export_dir;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("query", "Score the pool and choose N samples to label");
  add_scoring_options(*cmd, *a);
  cmd->add_option("-n,--count", a->n, "How many samples to choose")->required();
  cmd->add_option("-o,--out", a->out, "File for the chosen indices, one per line")->required();
  cmd->add_option("--export", a->export_dir,
                  "Folder for annotation: the chosen samples as PNG files and labels.csv to fill");
  cmd->callback([a] {
    ScoringSetup s = load_scoring_setup(*a);
    NSAL_CHECK(a->n >= 1 && a->n <= static_cast<int64_t>(s.pool.size()),
               "nsal query: -n must lie in [1, {}] (the pool size), got {}", s.pool.size(), a->n);
    al::StrategyConfig sc;
    sc.name = "noise-stability";
    sc.ns = a->ns;
    std::vector<int64_t> none;
    al::AcquisitionInput in{*s.model, *s.ctx, s.data, none, s.pool, a->n, a->batch, a->seed};
    al::Acquisition acq = al::make_strategy(sc)->acquire(in);
    al::write_indices(a->out, acq.selected);
    fmt::print("{}\n", acq.timing);
    fmt::print("chose {} of {} samples ({:.2f}s): wrote {}\n", acq.selected.size(), s.pool.size(),
               acq.seconds, a->out);
    if (!a->export_dir.empty()) {
      export_for_annotation(s.data, acq.selected, a->export_dir);
      fmt::print("wrote {}/labels.csv and the samples for annotation\n", a->export_dir);
    }
  });
});

}  // namespace nsal::app
