// Checkpoints: a model's parameters and buffers under their PyTorch names and layouts, the
// optimizer state, the RNG state (run seed, dropout seeds and steps), the epoch and what built
// the model, in one HDF5 file written atomically (temp file, then rename).
//
// File layout (format "nsal-checkpoint", format_version 1):
//   /                      attributes: format, format_version, nsal_version, arch, in_channels,
//                          classes, hidden (mlp widths; empty elsewhere), dtype, epoch, seed
//   /params/<name>         every trainable tensor, PyTorch shape (OIHW, (out, in), ...), in the
//                          arena's dtype: "layer1.0.conv1.weight", ...
//   /buffers/<name>        running_mean / running_var in the arena's dtype; num_batches_tracked
//                          as an int64 scalar (shape ()), as in PyTorch's state_dict
//   /optimizer             attributes: kind ("sgd", "adam", "adamw"), steps_taken, lr,
//                          arena_size; present only when an optimizer was saved
//     /flat/<state>        (arena_size,) float32 in the arena layout ("momentum_buffer", ...)
//     /layout_names, /layout_offsets   the arena layout the flat state refers to
//     /per_param/<state>/<name>        the same state sliced per parameter, PyTorch shape
//   /rng                   attribute seed (the run's seed, as int64 bits)
//     /dropout/<layer>     attributes seed, step of every Dropout layer (Dropout::step());
//                          /rng is optional: a file written by another tool (e.g. from a
//                          PyTorch state_dict) may omit it, and dropout layers keep their state
//   /extra                 attributes: free-form strings of the caller (CheckpointMeta::extra)
//
// So `{k: torch.from_numpy(v[()]) for k, v in f["params"].items()}` plus the buffers is a
// state_dict that loads into the equivalent PyTorch model with strict=True
// (tests/torch/check_checkpoint.py does exactly that).
//
// Loading is all-or-nothing: everything is read and checked before the model, optimizer or
// dropout layers change. A file that is not an nsal checkpoint, is truncated or corrupt, was
// written for another architecture, or whose names and shapes do not fit the model raises one
// nsal::DataError naming the file and listing every missing, unexpected and wrong-shaped name.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nn/model.h"
#include "nn/optim/optimizer.h"

namespace nsal {

constexpr int64_t kCheckpointFormatVersion = 1;

// What the caller records beside the model.
struct CheckpointMeta {
  int64_t epoch = 0;
  uint64_t seed = 0;  // the run's seed
  std::map<std::string, std::string> extra;
};

// What a checkpoint says about itself.
struct CheckpointInfo {
  ModelSpec spec;
  std::string nsal_version;
  int64_t format_version = 0;
  std::string dtype;  // of the parameters: "float32", "float64"
  CheckpointMeta meta;
  std::string optimizer;  // kind, "" when none was saved
  int64_t optimizer_steps = 0;
  double optimizer_lr = 0;
};

struct CheckpointWriteOptions {
  bool overwrite = true;            // false: refuse to replace an existing file
  bool optimizer_per_param = true;  // also store the optimizer state sliced per parameter
};

// Writes `model` (built), and `optimizer` when not null, to `path` atomically.
void save_checkpoint(const std::string& path, const Model& model, Optimizer* optimizer,
                     const CheckpointMeta& meta, const CheckpointWriteOptions& options = {});

// Loads `path` into `model` (built, any device and dtype: values are converted) and, when not
// null, `optimizer` (its kind must match and the file must hold optimizer state). Dropout seeds
// and steps are restored. Returns what the file says about itself.
CheckpointInfo load_checkpoint(const std::string& path, Model& model,
                               Optimizer* optimizer = nullptr);

// Reads the attributes only (e.g. to build the model with make_model(info.spec) first).
CheckpointInfo read_checkpoint_info(const std::string& path);

}  // namespace nsal
