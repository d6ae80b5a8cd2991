// `nsal predict`: each sample's logits, probabilities or features, written to HDF5.
#include <fmt/core.h>

#include "al/strategy.h"
#include "al/training.h"
#include "apps/nsal/command.h"
#include "apps/nsal/model_io.h"
#include "data/loader.h"
#include "nn/hdf5.h"

namespace nsal::app {

namespace {

// What --output auto means for a dataset's task.
std::string resolved_output(const std::string& output, data::Task task) {
  if (output != "auto") return output;
  return task == data::Task::regression ? "values" : "probs";
}

}  // namespace

static CommandRegistrar reg("predict", [](CLI::App& app) {
  struct Args {
    std::string checkpoint, dataset, split = "test", output = "auto", out;
    int batch = 512;
    ExecArgs exec;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("predict", "Write every sample's outputs to an HDF5 file");
  add_checkpoint_data_options(*cmd, a->checkpoint, a->dataset, a->split,
                              "Split to predict (train or test)");
  cmd->add_option("--output", a->output,
                  "auto (probs; values for regression), probs (class probabilities, per pixel "
                  "for segmentation), values (regression predictions in target units), logits "
                  "(raw outputs; standardised for regression) or features")
      ->check(CLI::IsMember({"auto", "probs", "values", "logits", "features"}))
      ->capture_default_str();
  cmd->add_option("-o,--out", a->out, "Output file (.h5)")->required();
  cmd->add_flag("--force", a->force, "Overwrite an existing output file");
  cmd->add_option("--batch-size", a->batch, "Batch size")
      ->check(at_least(1))
      ->capture_default_str();
  add_exec_options(*cmd, a->exec);
  cmd->callback([a] {
    h5::AtomicOutput out(a->out, a->force);  // an existing output is refused before any work
    auto ctx = make_context(a->exec);
    auto model = load_model(a->checkpoint, *ctx, a->exec.fused);
    data::Dataset d = data::read_for_loader(a->dataset, a->split);
    al::check_model_fits(*model, d);
    const bool regression = d.task == data::Task::regression;
    const std::string output = resolved_output(a->output, d.task);
    NSAL_CHECK(!(regression && output == "probs"),
               "predict --output probs: {} holds regression targets, not classes (use values, "
               "logits or features)",
               a->dataset);
    NSAL_CHECK(regression || output != "values",
               "predict --output values: for regression datasets; {} is {}", a->dataset,
               data::task_name(d.task));
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
          const int64_t row = h.numel() / count;
          float* dst = result.data<float>() + first * row;
          if (output == "probs") {
            const int64_t c = h.dim(1), p = row / c;  // p: pixels (1 for classification)
            al::softmax_channels(h.data<float>(), count, c, p, dst);
          } else if (output == "values") {  // (x * std + mean) per target
            for (int64_t i = 0; i < count; ++i)
              for (int64_t j = 0; j < row; ++j)
                dst[i * row + j] =
                    h.data<float>()[i * row + j] * d.target_std_of(j) + d.target_mean_of(j);
          } else {
            result.slice0(first, first + count).copy_from(h);
          }
        },
        output == "features");
    {
      h5::File f = h5::File::create(out.tmp_path());
      f.write_tensor(output, result);
      f.set_string("checkpoint", a->checkpoint);
      f.set_string("dataset", a->dataset);
      f.set_string("split", a->split);
      f.set_string("arch", model->arch());
      f.set_string("output", output);
    }
    out.commit();
    fmt::print("wrote {}: {} {}\n", a->out, output, shape_str(result.shape()));
  });
});

}  // namespace nsal::app
