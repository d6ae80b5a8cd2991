// nsal_model_probe: whole models and checkpoints for the PyTorch comparison
// (tests/torch/check_checkpoint.py).
//
//   nsal_model_probe save --arch A --in C --classes K [--hidden 32,16] --seed S --dtype f32|f64
//                         --io IO.h5 --ckpt OUT.h5
//     builds the model from the seed, runs a training-mode forward on IO.h5:/x_train (when
//     present) so that the BatchNorm running statistics move, then evaluates IO.h5:/x in eval
//     mode, writes the outputs to IO.h5:/y_nsal (float64) and saves the checkpoint.
//
//   nsal_model_probe load --ckpt IN.h5 --dtype f32|f64 --io IO.h5
//     builds the model the checkpoint names, loads it, evaluates IO.h5:/x in eval mode and writes
//     IO.h5:/y_nsal.
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "nn/checkpoint.h"
#include "nn/hdf5.h"
#include "nn/models/registry.h"

namespace nsal {
namespace {

std::map<std::string, std::string> parse_flags(int argc, char** argv) {
  std::map<std::string, std::string> f;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    NSAL_CHECK(a.rfind("--", 0) == 0 && i + 1 < argc, "probe: expected --flag VALUE, got '{}'", a);
    f[a.substr(2)] = argv[++i];
  }
  return f;
}

const std::string& need(const std::map<std::string, std::string>& f, const std::string& k) {
  auto it = f.find(k);
  NSAL_CHECK(it != f.end(), "probe: --{} is required", k);
  return it->second;
}

DType dtype_of(const std::string& s) {
  NSAL_CHECK(s == "f32" || s == "f64", "probe: --dtype must be f32 or f64, got '{}'", s);
  return s == "f32" ? DType::f32 : DType::f64;
}

void evaluate(Model& m, const std::string& io, DType dtype) {
  Context ctx;
  h5::File f = h5::File::open(io, /*writable=*/true);
  if (f.exists("x_train")) {
    m.set_training(true);
    m.forward(ctx, f.open_dataset("x_train").read_tensor(dtype));
  }
  m.set_training(false);
  const Tensor& y = m.forward(ctx, f.open_dataset("x").read_tensor(dtype));
  Tensor y64 = y.to_dtype(DType::f64);
  if (f.exists("y_nsal")) throw Error("probe: " + io + " already holds y_nsal");
  f.write_tensor("y_nsal", y64);
  f.close();
}

int run(int argc, char** argv) {
  NSAL_CHECK(argc >= 2, "usage: nsal_model_probe save|load --flag VALUE ...");
  const std::string cmd = argv[1];
  auto flags = parse_flags(argc, argv);
  DType dtype = dtype_of(need(flags, "dtype"));
  if (cmd == "save") {
    ModelSpec spec(need(flags, "arch"), std::stoll(need(flags, "in")),
                   std::stoll(need(flags, "classes")));
    if (flags.count("hidden")) {
      std::stringstream ss(flags["hidden"]);
      for (std::string w; std::getline(ss, w, ',');)
        spec.hidden.push_back(std::stoll(w));
    }
    auto m = make_model(spec);
    m->build(Device::cpu(), std::stoull(need(flags, "seed")), dtype);
    const std::string io = need(flags, "io");
    // The training-mode forward moves the BN statistics; evaluate() then runs in eval mode.
    evaluate(*m, io, dtype);
    CheckpointMeta meta;
    meta.seed = std::stoull(need(flags, "seed"));
    save_checkpoint(need(flags, "ckpt"), *m, nullptr, meta);
    return 0;
  }
  if (cmd == "load") {
    const std::string ckpt = need(flags, "ckpt");
    CheckpointInfo info = read_checkpoint_info(ckpt);
    auto m = make_model(info.spec);
    m->build(Device::cpu(), 0, dtype);
    load_checkpoint(ckpt, *m);
    h5::File f = h5::File::open(need(flags, "io"));
    NSAL_CHECK(!f.exists("x_train"), "probe load: {} must not hold x_train", need(flags, "io"));
    f.close();
    evaluate(*m, need(flags, "io"), dtype);
    return 0;
  }
  throw Error("probe: unknown command '" + cmd + "' (save or load)");
}

}  // namespace
}  // namespace nsal

int main(int argc, char** argv) {
  try {
    return nsal::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "nsal_model_probe: " << e.what() << "\n";
    return 1;
  }
}
