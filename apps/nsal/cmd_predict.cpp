// `nsal predict`: each sample's logits, probabilities or features, written to HDF5.
#include <fmt/core.h>

#include "al/strategy.h"
#include "al/training.h"
#include "apps/nsal/command.h"
#include "apps/nsal/model_io.h"
#include "data/loader.h"
#include "nn/hdf5.h"

namespace nsal::app {

static CommandRegistrar reg("predict", [](CLI::App& app) {
  struct Args {
    std::string checkpoint, dataset, split = "test", output = "probs", out;
    int batch = 512;
    ExecArgs exec;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("predict", "Write every sample's outputs to an HDF5 file");
  cmd->add_option("checkpoint", a->checkpoint, "Checkpoint (.h5)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--dataset", a->dataset, "HDF5 dataset file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--split", a->split, "train or test");
  cmd->add_option("--output", a->output, "probs, logits or features")
      ->check(CLI::IsMember({"probs", "logits", "features"}));
  cmd->add_option("-o,--out", a->out, "Output file (.h5)")->required();
  cmd->add_flag("--force", a->force, "Overwrite an existing output file");
  cmd->add_option("--batch-size", a->batch, "Batch size")
      ->check(at_least(1))
      ->capture_default_str();
  add_exec_options(*cmd, a->exec);
  cmd->callback([a] {
    auto ctx = make_context(a->exec);
    auto model = load_model(a->checkpoint, *ctx, a->exec.fused);
    data::Dataset d = data::read_for_loader(a->dataset, a->split);
    al::check_model_fits(*model, d);
    std::vector<int64_t> all = data::all_indices(d.size());
    Tensor result;
    al::run_inference(
        *model, *ctx, d, all, a->batch,
        [&](int64_t first, int64_t count, const Tensor& o) {
          Tensor h = o.to(Device::cpu());
          Shape s = h.shape();
          if (result.empty()) {
            s[0] = d.size();
            result = Tensor(s);
          }
          if (a->output == "probs") {
            NSAL_CHECK(h.ndim() == 2, "predict --output probs needs outputs (N, C), got {}",
                       shape_str(h.shape()));
            al::softmax_rows(h.data<float>(), count, h.dim(1),
                             result.data<float>() + first * h.dim(1));
          } else {
            result.slice0(first, first + count).copy_from(h);
          }
        },
        a->output == "features");
    h5::AtomicOutput out(a->out, a->force);
    {
      h5::File f = h5::File::create(out.tmp_path());
      f.write_tensor(a->output, result);
      f.set_string("checkpoint", a->checkpoint);
      f.set_string("dataset", a->dataset);
      f.set_string("split", a->split);
      f.set_string("arch", model->arch());
    }
    out.commit();
    fmt::print("wrote {}: {} {}\n", a->out, a->output, shape_str(result.shape()));
  });
});

}  // namespace nsal::app
