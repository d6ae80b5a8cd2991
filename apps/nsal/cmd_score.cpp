// `nsal score`: every pool sample's noise-stability score, to HDF5 and CSV.
#include <fmt/format.h>

#include "al/atomic_file.h"
#include "apps/nsal/command.h"
#include "apps/nsal/scoring_options.h"
#include "nn/hdf5.h"

namespace nsal::app {

static CommandRegistrar reg("score", [](CLI::App& app) {
  struct Args : ScoringArgs {
    std::string out;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("score", "Noise-stability score of every pool sample");
  add_scoring_options(*cmd, *a);
  cmd->add_option("-o,--out", a->out, "Output prefix: writes PREFIX.h5 and PREFIX.csv")->required();
  cmd->add_flag("--force", a->force, "Overwrite existing outputs");
  cmd->callback([a] {
    // Before any work: existing outputs are kept unless --force.
    NSAL_CHECK(a->force || !al::file_exists(a->out + ".csv"),
               "{}.csv exists; pass --force to overwrite it", a->out);
    h5::AtomicOutput out(a->out + ".h5", a->force);
    ScoringSetup s = load_scoring_setup(*a);
    fmt::print(stderr, "scoring {} samples of {} ({}), preset {}, K = {}, lambda = {}\n",
               s.pool.size(), a->dataset, a->split, a->ns.preset, a->ns.draws, a->ns.lambda);
    al::NoiseStabilityResult r =
        al::noise_stability_scores(*s.model, *s.ctx, s.data, s.pool, a->ns, a->batch, a->seed);
    std::string csv = "index,score\n";
    for (size_t i = 0; i < s.pool.size(); ++i)
      csv += fmt::format("{},{:.9g}\n", s.pool[i], r.scores[i]);
    {
      h5::File f = h5::File::create(out.tmp_path());
      Tensor idx({static_cast<int64_t>(s.pool.size())}, DType::i32);
      Tensor sc({static_cast<int64_t>(s.pool.size())});
      for (size_t i = 0; i < s.pool.size(); ++i) {
        idx.data<int32_t>()[i] = static_cast<int32_t>(s.pool[i]);
        sc.data<float>()[i] = r.scores[i];
      }
      f.write_tensor("indices", idx);
      f.write_tensor("scores", sc);
      if (a->ns.preset == "released") f.write_tensor("deviation_vectors", r.vectors);
      // Everything the scores depend on, so that a file says how it was made.
      f.set_string("preset", a->ns.preset);
      f.set_string("checkpoint", a->checkpoint);
      f.set_string("dataset", a->dataset);
      f.set_string("split", a->split);
      f.set_int("draws", a->ns.draws);
      f.set_double("lambda", a->ns.lambda);
      f.set_string("distribution", a->ns.distribution);
      f.set_string("magnitude", a->ns.magnitude);
      f.set_string("output", r.output);  // auto resolved
      f.set_string("groups",
                   a->ns.groups.empty() ? "all" : fmt::format("{}", fmt::join(a->ns.groups, ",")));
      f.set_string("seed", std::to_string(a->seed));  // a uint64 in decimal
      f.set_int("subset", a->subset);
      f.set_int("batch_size", a->batch);
      f.set_string("device", s.ctx->device().str());
      f.set_string("math", math_mode_name(s.ctx->math_mode()));
      f.set_string("passes", r.timing.passes);
      f.set_string("created_by", std::string("nsal ") + NSAL_VERSION);
    }
    out.commit();
    al::write_file_atomic(a->out + ".csv", csv);
    fmt::print("{}\n", timing_report(r.timing, 0.0));
    if (r.nonfinite > 0)
      fmt::print(
          "warning: {} samples gave non-finite outputs in some draw; they score NaN and are "
          "never selected\n",
          r.nonfinite);
    fmt::print("wrote {}.h5 and {}.csv\n", a->out, a->out);
  });
});

}  // namespace nsal::app
