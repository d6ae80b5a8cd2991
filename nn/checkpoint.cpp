#include "nn/checkpoint.h"
#include "nn/kill_point.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "nn/hdf5.h"
#include "nn/layers/dropout.h"

namespace nsal {

namespace {

constexpr const char* kFormat = "nsal-checkpoint";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// BatchNorm's num_batches_tracked: a float count of shape (1,) in the arena, an int64 scalar
// (shape ()) in PyTorch's state_dict and in the file.
bool is_count(const ParamInfo& info) {
  return ends_with(info.name, ".num_batches_tracked");
}

Shape file_shape(const ParamInfo& info) {
  return is_count(info) ? Shape{} : info.shape;
}

// A host tensor with t's contents: t itself (as a view) on the CPU, else a copy.
Tensor host_of(const Tensor& t) {
  if (t.device().is_cpu()) return Tensor::view(t.raw(), t.shape(), t.dtype(), Device::cpu());
  return t.to(Device::cpu());
}

// The elements [offset, offset + numel(shape)) of a flat host tensor, as a view of `shape`.
Tensor slice_view(const Tensor& flat, int64_t offset, const Shape& shape) {
  char* base =
      static_cast<char*>(flat.raw()) + offset * static_cast<int64_t>(dtype_size(flat.dtype()));
  return Tensor::view(base, shape, flat.dtype(), Device::cpu());
}

// Chunked along the first dimension with a Fletcher-32 checksum per chunk, so that a corrupted
// file is detected on read.
h5::DatasetOptions checked_layout(const Shape& shape) {
  h5::DatasetOptions o;
  if (shape.empty() || shape_numel(shape) == 0) return o;
  // Rows split evenly over the fewest chunks of at most 2^20 elements (HDF5 allocates whole
  // chunks, so an uneven split would waste most of a chunk).
  const int64_t rows = shape[0], row = shape_numel(shape) / rows, limit = int64_t{1} << 20;
  const int64_t chunks = std::max<int64_t>(1, (rows * row + limit - 1) / limit);
  o.chunk_rows = std::max<int64_t>(1, (rows + chunks - 1) / chunks);
  o.fletcher32 = true;
  return o;
}

void write_checked(h5::Group& g, const std::string& name, const Tensor& t) {
  g.write_tensor(name, t, checked_layout(t.shape()));
}

std::vector<Dropout*> dropouts_of(const Model& m) {
  std::vector<Dropout*> out;
  for (const auto& l : m.layers())
    if (auto* d = dynamic_cast<Dropout*>(l.get())) out.push_back(d);
  return out;
}

std::string join_limited(const std::vector<std::string>& items, size_t limit = 8) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < limit; ++i)
    s += (i ? ", " : "") + items[i];
  if (items.size() > limit) s += fmt::format(", ... ({} more)", items.size() - limit);
  return s;
}

// Mismatches found while checking a file against a model, reported together.
struct Problems {
  std::vector<std::string> missing, unexpected, wrong_shape, other;
  bool empty() const {
    return missing.empty() && unexpected.empty() && wrong_shape.empty() && other.empty();
  }
  std::string str() const {
    std::vector<std::string> parts = other;
    if (!missing.empty())
      parts.push_back(fmt::format("{} missing: {}", missing.size(), join_limited(missing)));
    if (!unexpected.empty())
      parts.push_back(
          fmt::format("{} unexpected: {}", unexpected.size(), join_limited(unexpected)));
    if (!wrong_shape.empty())
      parts.push_back(
          fmt::format("{} wrong-shaped: {}", wrong_shape.size(), join_limited(wrong_shape)));
    std::string s;
    for (const auto& p : parts)
      s += (s.empty() ? "" : "; ") + p;
    return s;
  }
};

// Compares the datasets of group `where` with `infos`: missing, unexpected and wrong-shaped names.
void compare_names(const h5::File& f, const std::string& where, const std::vector<ParamInfo>& infos,
                   Problems& pr) {
  if (infos.empty() && !f.exists(where)) return;
  if (!f.exists(where)) {
    pr.other.push_back("no /" + where + " group");
    return;
  }
  h5::Group g = f.open_group(where);
  std::set<std::string> known;
  for (const ParamInfo& info : infos) {
    known.insert(info.name);
    if (!g.exists(info.name)) {
      pr.missing.push_back(where + "/" + info.name);
      continue;
    }
    Shape s = g.open_dataset(info.name).shape();
    if (s != file_shape(info))
      pr.wrong_shape.push_back(fmt::format("{}/{} (file {}, model {})", where, info.name,
                                           shape_str(s), shape_str(file_shape(info))));
  }
  for (const std::string& name : g.children())
    if (!known.count(name)) pr.unexpected.push_back(where + "/" + name);
}

// Reads every tensor of `infos` from group `where` into a zeroed host staging buffer laid out
// like the arena (padding stays zero).
Tensor read_staged(const h5::File& f, const std::string& where, const std::vector<ParamInfo>& infos,
                   int64_t size, DType dtype) {
  Tensor flat = Tensor::zeros({size}, dtype, Device::cpu());
  if (infos.empty()) return flat;
  h5::Group g = f.open_group(where);
  for (const ParamInfo& info : infos) {
    h5::Dataset d = g.open_dataset(info.name);
    if (is_count(info)) {
      int64_t v = 0;
      d.read(&v, h5::Type::i64);
      Tensor one = Tensor::from_vector({static_cast<double>(v)}, {1}, dtype);
      slice_view(flat, info.offset, {1}).copy_from(one);
    } else {
      Tensor view = slice_view(flat, info.offset, info.shape);
      d.read(view.raw(), h5::type_of(dtype));
    }
  }
  return flat;
}

CheckpointInfo read_info(const h5::File& f) {
  NSAL_CHECK_AS(DataError, f.has_attr("format") && f.get_string("format") == kFormat,
                "{}: not an nsal checkpoint (no format attribute '{}')", f.file(), kFormat);
  CheckpointInfo info;
  info.format_version = f.get_int("format_version");
  NSAL_CHECK_AS(DataError,
                info.format_version >= 1 && info.format_version <= kCheckpointFormatVersion,
                "{}: checkpoint format version {} is not supported (this build reads 1 to {})",
                f.file(), info.format_version, kCheckpointFormatVersion);
  info.nsal_version = f.get_string("nsal_version");
  info.spec.arch = f.get_string("arch");
  info.spec.in_channels = f.get_int("in_channels");
  info.spec.classes = f.get_int("classes");
  for (double h : f.get_doubles("hidden"))
    info.spec.hidden.push_back(static_cast<int64_t>(h));
  info.dtype = f.get_string("dtype");
  info.meta.epoch = f.get_int("epoch");
  info.meta.seed = static_cast<uint64_t>(f.get_int("seed"));
  if (f.exists("extra")) {
    h5::Group e = f.open_group("extra");
    for (const std::string& k : e.attr_names())
      info.meta.extra[k] = e.get_string(k);
  }
  if (f.exists("optimizer")) {
    h5::Group o = f.open_group("optimizer");
    info.optimizer = o.get_string("kind");
    info.optimizer_steps = o.get_int("steps_taken");
    info.optimizer_lr = o.get_double("lr");
  }
  return info;
}

std::vector<std::string> param_names(const ParamArena& a) {
  std::vector<std::string> v;
  for (const ParamInfo& p : a.param_infos())
    v.push_back(p.name);
  return v;
}

std::vector<double> param_offsets(const ParamArena& a) {
  std::vector<double> v;
  for (const ParamInfo& p : a.param_infos())
    v.push_back(static_cast<double>(p.offset));
  return v;
}

void write_optimizer(h5::File& f, const ParamArena& a, Optimizer& opt, bool per_param) {
  h5::Group o = f.create_group("optimizer");
  o.set_string("kind", opt.kind());
  o.set_int("steps_taken", opt.steps_taken());
  o.set_double("lr", opt.lr());
  o.set_int("arena_size", a.arena_size());
  o.write_strings("layout_names", param_names(a));
  std::vector<double> offs = param_offsets(a);
  o.write_tensor("layout_offsets",
                 Tensor::from_vector(offs, {static_cast<int64_t>(offs.size())}, DType::f64));
  h5::Group flat = o.create_group("flat");
  h5::Group pp;
  if (per_param) pp = o.create_group("per_param");
  for (auto& [name, t] : opt.state()) {
    Tensor h = host_of(*t);
    write_checked(flat, name, h);
    if (!per_param) continue;
    h5::Group s = pp.create_group(name);
    for (const ParamInfo& info : a.param_infos())
      write_checked(s, info.name, slice_view(h, info.offset, info.shape));
  }
}

// Reads the optimizer's state tensors into host staging buffers (in state() order).
std::vector<Tensor> read_optimizer(const h5::File& f, const ParamArena& a, Optimizer& opt,
                                   Problems& pr) {
  std::vector<Tensor> staged;
  if (!f.exists("optimizer")) {
    pr.other.push_back("no optimizer state (saved without an optimizer), but one was given");
    return staged;
  }
  h5::Group o = f.open_group("optimizer");
  std::string kind = o.get_string("kind");
  if (kind != opt.kind()) {
    pr.other.push_back(
        fmt::format("optimizer state is '{}', the optimizer is '{}'", kind, opt.kind()));
    return staged;
  }
  h5::Group flat = o.open_group("flat");
  std::set<std::string> wanted;
  for (auto& entry : opt.state())
    wanted.insert(entry.first);
  for (const std::string& n : flat.children())
    if (!wanted.count(n)) pr.unexpected.push_back("optimizer/flat/" + n);
  bool same_layout = o.get_int("arena_size") == a.arena_size() &&
                     o.read_strings("layout_names") == param_names(a) &&
                     o.open_dataset("layout_offsets").read_all<double>() == param_offsets(a);
  for (auto& [name, t] : opt.state()) {
    Tensor h = Tensor::zeros({a.arena_size()}, DType::f32, Device::cpu());
    if (same_layout) {
      if (!flat.exists(name)) {
        pr.missing.push_back("optimizer/flat/" + name);
        continue;
      }
      h5::Dataset d = flat.open_dataset(name);
      if (d.shape() != Shape{a.arena_size()}) {
        pr.wrong_shape.push_back(fmt::format("optimizer/flat/{} (file {}, model {})", name,
                                             shape_str(d.shape()), shape_str({a.arena_size()})));
        continue;
      }
      d.read(h.raw(), h5::Type::f32);
    } else {
      // Another arena layout (another nsal version): rebuild from the per-parameter slices.
      std::string where = "optimizer/per_param/" + name;
      Problems local;
      compare_names(f, where, a.param_infos(), local);
      if (!local.empty()) {
        pr.other.push_back("the optimizer state was saved for another arena layout and its " +
                           where + " does not fit: " + local.str());
        continue;
      }
      h = read_staged(f, where, a.param_infos(), a.arena_size(), DType::f32);
    }
    staged.push_back(std::move(h));
  }
  return staged;
}

}  // namespace

void save_checkpoint(const std::string& path, const Model& model, Optimizer* optimizer,
                     const CheckpointMeta& meta, const CheckpointWriteOptions& options) {
  NSAL_CHECK(model.built(), "checkpoint {}: model '{}' is not built", path, model.arch());
  const ParamArena& a = model.arena();
  if (optimizer)
    NSAL_CHECK(
        optimizer->state().empty() || optimizer->state().front().second->numel() == a.arena_size(),
        "checkpoint {}: the optimizer does not belong to model '{}'", path, model.arch());
  h5::AtomicOutput out(path, options.overwrite);
  {
    h5::File f = h5::File::create(out.tmp_path());
    ModelSpec spec = model.spec();
    f.set_string("format", kFormat);
    f.set_int("format_version", kCheckpointFormatVersion);
    f.set_string("nsal_version", NSAL_VERSION);
    f.set_string("arch", spec.arch);
    f.set_int("in_channels", spec.in_channels);
    f.set_int("classes", spec.classes);
    f.set_doubles("hidden", std::vector<double>(spec.hidden.begin(), spec.hidden.end()));
    f.set_string("dtype", dtype_name(a.dtype()));
    f.set_int("epoch", meta.epoch);
    f.set_int("seed", static_cast<int64_t>(meta.seed));

    Tensor hp = host_of(a.params());
    h5::Group gp = f.create_group("params");
    for (const ParamInfo& info : a.param_infos())
      write_checked(gp, info.name, slice_view(hp, info.offset, info.shape));

    h5::Group gb = f.create_group("buffers");
    if (!a.buffer_infos().empty()) {
      Tensor hb = host_of(a.buffers());
      for (const ParamInfo& info : a.buffer_infos()) {
        if (is_count(info)) {
          int64_t v = static_cast<int64_t>(slice_view(hb, info.offset, {1}).at(0));
          gb.create_dataset(info.name, h5::Type::i64, {}).write(&v, h5::Type::i64);
        } else {
          write_checked(gb, info.name, slice_view(hb, info.offset, info.shape));
        }
      }
    }

    if (optimizer) write_optimizer(f, a, *optimizer, options.optimizer_per_param);

    h5::Group rng = f.create_group("rng");
    rng.set_int("seed", static_cast<int64_t>(meta.seed));
    h5::Group gd = rng.create_group("dropout");
    for (Dropout* d : dropouts_of(model)) {
      h5::Group l = gd.create_group(d->name());
      l.set_int("seed", static_cast<int64_t>(d->seed()));
      l.set_int("step", static_cast<int64_t>(d->step()));
    }

    h5::Group extra = f.create_group("extra");
    for (const auto& [k, v] : meta.extra)
      extra.set_string(k, v);
    f.close();
  }
  kill_point("checkpoint-commit");  // the temp file is written, not yet renamed
  out.commit();
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return read_info(h5::File::open(path));
}

CheckpointInfo load_checkpoint(const std::string& path, Model& model, Optimizer* optimizer) {
  NSAL_CHECK(model.built(), "checkpoint {}: model '{}' is not built", path, model.arch());
  h5::File f = h5::File::open(path);
  CheckpointInfo info = read_info(f);
  NSAL_CHECK_AS(DataError, info.spec.arch == model.arch(),
                "{}: checkpoint of architecture '{}' cannot load into model '{}'", path,
                info.spec.arch, model.arch());
  ParamArena& a = model.arena();
  Problems pr;
  ModelSpec ms = model.spec();
  if (ms.in_channels != info.spec.in_channels || ms.classes != info.spec.classes ||
      ms.hidden != info.spec.hidden)
    pr.other.push_back(fmt::format(
        "saved with in_channels {}, classes {}, hidden ({}); the model has {}, {}, ({})",
        info.spec.in_channels, info.spec.classes, fmt::join(info.spec.hidden, ", "), ms.in_channels,
        ms.classes, fmt::join(ms.hidden, ", ")));
  compare_names(f, "params", a.param_infos(), pr);
  compare_names(f, "buffers", a.buffer_infos(), pr);

  std::vector<Dropout*> drops = dropouts_of(model);
  // (seed, step) per dropout layer; none for a layer the file has no state of (a file from
  // another tool, or from before the model had that layer: the layer keeps its own state).
  std::vector<std::optional<std::pair<uint64_t, uint64_t>>> drop_state(drops.size());
  const bool has_rng = f.exists("rng");  // optional: files from other tools may omit it
  if (has_rng) {
    h5::Group rng = f.open_group("rng");
    if (!rng.exists("dropout")) {
      if (!drops.empty()) pr.other.push_back("no /rng/dropout group");
    } else {
      h5::Group gd = rng.open_group("dropout");
      std::set<std::string> known;
      for (size_t i = 0; i < drops.size(); ++i) {
        known.insert(drops[i]->name());
        if (!gd.exists(drops[i]->name())) continue;
        h5::Group l = gd.open_group(drops[i]->name());
        drop_state[i] = {static_cast<uint64_t>(l.get_int("seed")),
                         static_cast<uint64_t>(l.get_int("step"))};
      }
      for (const std::string& n : gd.children())
        if (!known.count(n)) pr.unexpected.push_back("rng/dropout/" + n);
    }
  }

  std::vector<Tensor> opt_state;
  if (optimizer) opt_state = read_optimizer(f, a, *optimizer, pr);
  if (!pr.empty())
    throw DataError(
        fmt::format("{}: checkpoint does not fit model '{}': {}", path, model.arch(), pr.str()));

  // Everything is read before anything changes.
  Tensor params = read_staged(f, "params", a.param_infos(), a.arena_size(), a.dtype());
  Tensor buffers;
  if (!a.buffer_infos().empty())
    buffers = read_staged(f, "buffers", a.buffer_infos(), a.buffers().numel(), a.dtype());

  a.params().copy_from(params);
  if (!a.buffer_infos().empty()) a.buffers().copy_from(buffers);
  for (size_t i = 0; i < drops.size(); ++i) {
    if (!drop_state[i]) continue;
    drops[i]->set_seed(drop_state[i]->first);
    drops[i]->set_step(drop_state[i]->second);
  }
  if (optimizer) {
    auto state = optimizer->state();
    for (size_t i = 0; i < state.size(); ++i)
      state[i].second->copy_from(opt_state[i]);
    optimizer->set_steps_taken(info.optimizer_steps);
    optimizer->set_lr(static_cast<float>(info.optimizer_lr));
  }
  return info;
}

}  // namespace nsal
