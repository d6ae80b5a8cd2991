#include "nn/init.h"

#include <cmath>
#include <string>
#include <vector>

#include "kernels/philox.h"

namespace nsal {

namespace {

bool starts_with(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

// fan_in of the weight that a parameter belongs to ("x.bias" looks up "x.weight").
int64_t fan_in_of(const ParamArena& arena, const ParamInfo& p) {
  const ParamInfo* w = &p;
  if (p.role == ParamRole::bias) {
    std::string wname = p.name.substr(0, p.name.rfind('.')) + ".weight";
    w = arena.find_param(wname);
    NSAL_CHECK(w != nullptr, "init: bias '{}' has no weight '{}'", p.name, wname);
  }
  NSAL_CHECK(w->shape.size() >= 2, "init: weight '{}' has shape {}, expected >= 2 dims", w->name,
             shape_str(w->shape));
  int64_t fan = w->shape[1];
  for (size_t i = 2; i < w->shape.size(); ++i)
    fan *= w->shape[i];
  return fan;
}

// U(-bound, bound) for element j of parameter `index`: counter (j, index), key = seed.
void fill_uniform(std::vector<double>& host, const ParamInfo& p, size_t index, uint64_t seed,
                  double bound) {
  philox::Key key = philox::make_key(seed);
  for (int64_t j = 0; j < p.numel; j += 2) {
    philox::U32x4 r = philox::philox4x32_10(philox::make_counter(j / 2, index), key);
    for (int64_t t = 0; t < 2 && j + t < p.numel; ++t) {
      double u = philox::u64_to_unit_double(r.v[2 * t], r.v[2 * t + 1]);  // (0, 1]
      host[static_cast<size_t>(p.offset + j + t)] = bound * (2.0 * u - 1.0);
    }
  }
}

}  // namespace

void init_pytorch_default(ParamArena& arena, uint64_t seed) {
  NSAL_CHECK(arena.allocated(), "init: the parameter arena is not allocated");
  std::vector<double> host(static_cast<size_t>(arena.arena_size()), 0.0);
  const auto& infos = arena.param_infos();
  for (size_t i = 0; i < infos.size(); ++i) {
    const ParamInfo& p = infos[i];
    if (starts_with(p.layer_type, "batchnorm")) {
      double v = p.role == ParamRole::weight ? 1.0 : 0.0;
      for (int64_t j = 0; j < p.numel; ++j)
        host[static_cast<size_t>(p.offset + j)] = v;
    } else {
      fill_uniform(host, p, i, seed, 1.0 / std::sqrt(static_cast<double>(fan_in_of(arena, p))));
    }
  }
  Tensor h = Tensor::from_vector(host, {arena.arena_size()}, arena.dtype());
  arena.params().copy_from(h);

  std::vector<double> buf(static_cast<size_t>(arena.buffers().numel()), 0.0);
  for (const ParamInfo& b : arena.buffer_infos()) {
    bool is_var = b.name.size() >= 11 && b.name.compare(b.name.size() - 11, 11, "running_var") == 0;
    for (int64_t j = 0; j < b.numel; ++j)
      buf[static_cast<size_t>(b.offset + j)] = is_var ? 1.0 : 0.0;
  }
  if (!buf.empty())
    arena.buffers().copy_from(Tensor::from_vector(buf, {arena.buffers().numel()}, arena.dtype()));
  arena.zero_grad();
}

}  // namespace nsal
