// A model's weights and a pool's inputs as NumPy .npy files plus a meta.json, for the PyTorch
// peers on a machine whose Python has NumPy but may lack h5py (benchmarks/torch_noise_stability.py
// --export DIR reads them). Benchmark-only: the product's formats are HDF5 (docs/data-format.md).
//
//   DIR/meta.json       {"arch", "in_channels", "classes", "tensors": [{"name", "file"}...],
//                        "x": {"file", "scale", "mean", "std"}}
//   DIR/<k>.npy         one per parameter and buffer, float32 under its PyTorch name, in the
//                       arena's shape (BatchNorm's step count too, as (1,): PyTorch's loader
//                       takes that for its int64 scalar)
//   DIR/x.npy           the pool's inputs as stored (uint8 or float32), (N, C, H, W)
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "kernels/error.h"
#include "nn/model.h"

namespace nsal::bench {

// Writes `bytes` of little-endian data as an .npy array of `descr` ("<f4", "|u1") and `shape`.
inline void write_npy(const std::string& path, const char* descr, const Shape& shape,
                      const void* data, size_t bytes) {
  std::string dims;
  for (int64_t d : shape)
    dims += fmt::format("{}, ", d);
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // "(2, 3)"; a 1-D shape keeps "(5, )"
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);
  // Magic (6) + version (2) + length (2) + header, padded with spaces and ended by a newline to a
  // multiple of 64 bytes.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::FILE* f = std::fopen(path.c_str(), "wb");
  NSAL_CHECK(f != nullptr, "{}: cannot create the file", path);
  const unsigned char preamble[10] = {0x93,
                                      'N',
                                      'U',
                                      'M',
                                      'P',
                                      'Y',
                                      1,
                                      0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  const bool ok = std::fwrite(preamble, 1, 10, f) == 10 &&
                  std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
                  std::fwrite(data, 1, bytes, f) == bytes;
  NSAL_CHECK(std::fclose(f) == 0 && ok, "{}: write failed", path);
}

// The model's parameters and buffers (on any device) and the pool `x` (the dataset's train split,
// on the host) with the per-channel normalisation `norm` (as the dataset file records it), as
// described at the top of this file.
inline void export_npy(const std::string& dir, Model& model, int64_t in_channels, int64_t classes,
                       const data::Dataset& pool, const data::DatasetInfo& norm) {
  std::filesystem::create_directories(dir);
  nlohmann::json meta;
  meta["arch"] = model.arch();
  meta["in_channels"] = in_channels;
  meta["classes"] = classes;
  meta["tensors"] = nlohmann::json::array();
  const ParamArena& arena = model.arena();
  int k = 0;
  auto put = [&](const std::vector<ParamInfo>& infos, const Tensor& flat) {
    const Tensor host = flat.to(Device::cpu());
    for (const ParamInfo& p : infos) {
      const std::string file = fmt::format("t{}.npy", k++);
      write_npy(dir + "/" + file, "<f4", p.shape, host.data<float>() + p.offset,
                static_cast<size_t>(shape_numel(p.shape)) * sizeof(float));
      meta["tensors"].push_back({{"name", p.name}, {"file", file}});
    }
  };
  put(arena.param_infos(), arena.params());
  put(arena.buffer_infos(), arena.buffers());
  const Tensor& x = pool.x;
  NSAL_CHECK(!norm.mean.empty() && norm.mean.size() == norm.std.size(),
             "npy export: no per-channel normalisation given");
  NSAL_CHECK(x.device().is_cpu() && (x.dtype() == DType::u8 || x.dtype() == DType::f32),
             "npy export: host inputs of uint8 or float32 expected, got {}", x.describe());
  const bool u8 = x.dtype() == DType::u8;
  write_npy(dir + "/x.npy", u8 ? "|u1" : "<f4", x.shape(), x.raw(), x.nbytes());
  meta["x"] = {{"file", "x.npy"},
               {"scale", u8 ? data::kUint8Scale : 1.0},
               {"mean", norm.mean},
               {"std", norm.std}};
  std::FILE* f = std::fopen((dir + "/meta.json").c_str(), "w");
  NSAL_CHECK(f != nullptr, "{}/meta.json: cannot create the file", dir);
  const std::string text = meta.dump(1);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  NSAL_CHECK(std::fclose(f) == 0 && ok, "{}/meta.json: write failed", dir);
}

}  // namespace nsal::bench
