// nsal_layer_probe: runs one named layer, multi-input op or loss in float64 on the CPU, for the
// PyTorch comparison (tests/torch/compare_layers.py).
//
//   nsal_layer_probe SPEC.json
//
// The spec names the op and its options, the mode, and a folder of raw little-endian C-order
// blobs: inputs "<dir>/in.<name>.bin" (float64, or int32 for class targets), parameters and
// buffers "<dir>/param.<local>.bin" / "<dir>/buffer.<local>.bin" (local = "weight", "bias",
// "running_mean", ...; absent files keep the arena's zeros), and the output gradient
// "<dir>/dy.bin". It writes "<dir>/out.y.bin" (the output, or the loss as one value),
// "<dir>/out.dx.<name>.bin" per float input, "<dir>/out.grad.<local>.bin" per parameter and
// "<dir>/out.buffer.<local>.bin" per buffer after the forward. Backward runs only in training
// mode. New ops are one entry in make_layer() (or run_multi / run_loss).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "nn/layers/activation.h"
#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"
#include "nn/layers/merge.h"
#include "nn/layers/pool.h"
#include "nn/layers/reshape.h"
#include "nn/layers/softmax.h"
#include "nn/layers/upsample.h"
#include "nn/losses.h"

using nlohmann::json;

namespace nsal {
namespace {

const char* kName = "l";  // the layer's name: parameters are "l.weight", ...

std::string g_dir;

std::string path(const std::string& file) {
  return g_dir + "/" + file;
}

bool exists(const std::string& file) {
  std::ifstream f(path(file));
  return f.good();
}

Tensor read_blob(const std::string& file, const Shape& shape, DType dtype) {
  Tensor t(shape, dtype);
  std::ifstream f(path(file), std::ios::binary);
  NSAL_CHECK(f.good(), "probe: cannot open {}", path(file));
  f.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  NSAL_CHECK(f.gcount() == static_cast<std::streamsize>(t.nbytes()),
             "probe: {} holds fewer than the {} bytes of {}", path(file), t.nbytes(), t.describe());
  return t;
}

void read_into(const std::string& file, Tensor& t) {
  Tensor src = read_blob(file, t.shape(), t.dtype());
  t.copy_from(src);
}

void write_blob(const std::string& file, const Tensor& t) {
  std::ofstream f(path(file), std::ios::binary);
  f.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  NSAL_CHECK(f.good(), "probe: cannot write {}", path(file));
}

void write_scalar(const std::string& file, double v) {
  write_blob(file, Tensor::from_vector({v}, {1}, DType::f64));
}

Shape shape_of(const json& j) {
  return j.get<Shape>();
}

PoolArg pool_arg(const json& o, const char* key, PoolArg fallback) {
  if (!o.contains(key)) return fallback;
  const json& v = o.at(key);
  if (v.is_number_integer()) return PoolArg(v.get<int>());
  PoolArg a(0);
  a.v = v.get<std::vector<int>>();
  return a;
}

std::unique_ptr<Layer> make_layer(const std::string& op, const json& o) {
  using Factory = std::function<std::unique_ptr<Layer>(const json&)>;
  auto bn = [](int dims) {
    return [dims](const json& j) {
      BatchNormOptions opt;
      opt.eps = j.value("eps", 1e-5);
      if (j.contains("momentum"))
        opt.momentum =
            j.at("momentum").is_null() ? std::nullopt : std::optional<double>(j.at("momentum"));
      opt.affine = j.value("affine", true);
      opt.track_running_stats = j.value("track_running_stats", true);
      return std::make_unique<BatchNorm>(dims, kName, j.at("num_features").get<int64_t>(), opt);
    };
  };
  auto maxpool = [](int dims) {
    return [dims](const json& j) -> std::unique_ptr<Layer> {
      return std::make_unique<MaxPool>(dims, kName, pool_arg(j, "kernel", 1),
                                       pool_arg(j, "stride", {}), pool_arg(j, "padding", 0));
    };
  };
  auto avgpool = [](int dims) {
    return [dims](const json& j) -> std::unique_ptr<Layer> {
      return std::make_unique<AvgPool>(dims, kName, pool_arg(j, "kernel", 1),
                                       pool_arg(j, "stride", {}), pool_arg(j, "padding", 0),
                                       j.value("count_include_pad", true));
    };
  };
  auto conv = [](int dims) {
    return [dims](const json& j) -> std::unique_ptr<Layer> {
      ConvOptions opt = dims == 2
                            ? ConvOptions::make2d(j.at("in_channels"), j.at("out_channels"), 1)
                            : ConvOptions::make3d(j.at("in_channels"), j.at("out_channels"), 1);
      auto set3 = [&](const char* key, kernels::Dims3& dst) {
        std::vector<int64_t> v = j.at(key).get<std::vector<int64_t>>();
        // ConvOptions holds (depth, height, width); a 2-D conv keeps depth 1.
        for (size_t i = 0; i < v.size(); ++i)
          dst[3 - v.size() + i] = v[i];
      };
      set3("kernel", opt.kernel);
      set3("stride", opt.stride);
      set3("padding", opt.padding);
      set3("dilation", opt.dilation);
      opt.groups = j.at("groups");
      opt.bias = j.at("bias");
      return std::make_unique<ConvNd>(dims, kName, opt);
    };
  };
  static const std::map<std::string, Factory> factories = {
      {"conv2d", conv(2)},
      {"conv3d", conv(3)},
      {"batchnorm1d", bn(1)},
      {"batchnorm2d", bn(2)},
      {"batchnorm3d", bn(3)},
      {"relu", [](const json&) { return std::make_unique<ReLU>(kName); }},
      {"relu6", [](const json&) { return std::make_unique<ReLU6>(kName); }},
      {"maxpool2d", maxpool(2)},
      {"maxpool3d", maxpool(3)},
      {"avgpool2d", avgpool(2)},
      {"avgpool3d", avgpool(3)},
      {"global_avg_pool", [](const json&) { return std::make_unique<GlobalAvgPool>(kName); }},
      {"linear",
       [](const json& j) {
         return std::make_unique<Linear>(kName, j.at("in_features").get<int64_t>(),
                                         j.at("out_features").get<int64_t>(),
                                         j.value("bias", true));
       }},
      {"dropout",
       [](const json& j) {
         auto d = std::make_unique<Dropout>(kName, j.at("p").get<double>(),
                                            j.value("seed", uint64_t{0}));
         d->set_step(j.value("step", uint64_t{0}));
         d->set_mc(j.value("mc", false));
         return d;
       }},
      {"flatten",
       [](const json& j) {
         return std::make_unique<Flatten>(kName, j.value("start_dim", 1), j.value("end_dim", -1));
       }},
      {"reshape",
       [](const json& j) { return std::make_unique<Reshape>(kName, shape_of(j.at("shape"))); }},
      {"upsample_bilinear2d",
       [](const json& j) -> std::unique_ptr<Layer> {
         if (j.contains("size")) {
           const Shape s = shape_of(j.at("size"));
           return std::make_unique<UpsampleBilinear2d>(kName, UpsampleSize{s.at(0), s.at(1)});
         }
         const auto s = j.at("scale").get<std::vector<double>>();
         return std::make_unique<UpsampleBilinear2d>(kName, UpsampleScale{s.at(0), s.at(1)});
       }},
      {"softmax", [](const json&) { return std::make_unique<Softmax>(kName); }},
      {"log_softmax", [](const json&) { return std::make_unique<LogSoftmax>(kName); }},
  };
  auto it = factories.find(op);
  if (it == factories.end()) return nullptr;
  return it->second(o);
}

std::string local(const std::string& full) {
  return full.substr(std::string(kName).size() + 1);
}

void run_layer(Layer& layer, const json& spec) {
  const json& in = spec.at("inputs").at(0);
  ParamArena arena;
  layer.declare(arena);
  arena.allocate(DType::f64, Device::cpu());
  std::vector<Tensor> params(arena.param_infos().size()), buffers(arena.buffer_infos().size());
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamInfo& p = arena.param_infos()[i];
    params[i] =
        Tensor::view(arena.params().data<double>() + p.offset, p.shape, DType::f64, Device::cpu());
    if (exists("param." + local(p.name) + ".bin"))
      read_into("param." + local(p.name) + ".bin", params[i]);
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    const ParamInfo& b = arena.buffer_infos()[i];
    buffers[i] =
        Tensor::view(arena.buffers().data<double>() + b.offset, b.shape, DType::f64, Device::cpu());
    if (exists("buffer." + local(b.name) + ".bin"))
      read_into("buffer." + local(b.name) + ".bin", buffers[i]);
  }
  const bool training = spec.value("training", true);
  layer.set_training(training);
  Context ctx;
  Tensor x = read_blob("in." + in.at("name").get<std::string>() + ".bin", shape_of(in.at("shape")),
                       DType::f64);
  const Tensor& y = layer.forward(ctx, x);
  write_blob("out.y.bin", y);
  for (size_t i = 0; i < buffers.size(); ++i)
    write_blob("out.buffer." + local(arena.buffer_infos()[i].name) + ".bin", buffers[i]);
  if (!training) return;
  Tensor dy = read_blob("dy.bin", y.shape(), DType::f64);
  arena.zero_grad();
  const Tensor& dx = layer.backward(ctx, dy);
  write_blob("out.dx." + in.at("name").get<std::string>() + ".bin", dx);
  for (const ParamInfo& p : arena.param_infos())
    write_blob(
        "out.grad." + local(p.name) + ".bin",
        Tensor::view(arena.grads().data<double>() + p.offset, p.shape, DType::f64, Device::cpu()));
}

std::vector<Tensor> read_inputs(const json& spec) {
  std::vector<Tensor> ins;
  for (const json& in : spec.at("inputs")) {
    const DType dt = in.value("dtype", "f64") == "i32" ? DType::i32 : DType::f64;
    ins.push_back(
        read_blob("in." + in.at("name").get<std::string>() + ".bin", shape_of(in.at("shape")), dt));
  }
  return ins;
}

std::string input_name(const json& spec, size_t i) {
  return spec.at("inputs").at(i).at("name").get<std::string>();
}

bool run_multi(const std::string& op, const json& spec) {
  Context ctx;
  std::vector<Tensor> ins = read_inputs(spec);
  if (op == "residual_add") {
    ResidualAdd add(kName);
    const Tensor& y = add.forward(ctx, ins.at(0), ins.at(1));
    write_blob("out.y.bin", y);
    Tensor dy = read_blob("dy.bin", y.shape(), DType::f64);
    ResidualAdd::Grads g = add.backward(ctx, dy);
    write_blob("out.dx." + input_name(spec, 0) + ".bin", g.a);
    write_blob("out.dx." + input_name(spec, 1) + ".bin", g.b);
    return true;
  }
  if (op == "concat") {
    Concat cat(kName);
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : ins)
      ptrs.push_back(&t);
    const Tensor& y = cat.forward(ctx, ptrs);
    write_blob("out.y.bin", y);
    Tensor dy = read_blob("dy.bin", y.shape(), DType::f64);
    const std::vector<Tensor>& g = cat.backward(ctx, dy);
    for (size_t i = 0; i < g.size(); ++i)
      write_blob("out.dx." + input_name(spec, i) + ".bin", g[i]);
    return true;
  }
  return false;
}

template <typename L>
void run_one_loss(L& loss, const std::vector<Tensor>& ins, const json& spec) {
  Context ctx;
  write_scalar("out.y.bin", loss.forward(ctx, ins.at(0), ins.at(1)));
  write_blob("out.dx." + input_name(spec, 0) + ".bin", loss.backward(ctx));
}

bool run_loss(const std::string& op, const json& spec) {
  const json& o = spec.value("options", json::object());
  if (op != "cross_entropy" && op != "mse" && op != "l1") return false;
  std::vector<Tensor> ins = read_inputs(spec);
  if (op == "cross_entropy") {
    CrossEntropyOptions opt;
    opt.class_weights = o.value("weight", std::vector<double>{});
    opt.ignore_index = o.value("ignore_index", -100);
    CrossEntropyLoss loss(opt);
    run_one_loss(loss, ins, spec);
  } else if (op == "mse") {
    MSELoss loss;
    run_one_loss(loss, ins, spec);
  } else {
    L1Loss loss;
    run_one_loss(loss, ins, spec);
  }
  return true;
}

}  // namespace
}  // namespace nsal

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: nsal_layer_probe SPEC.json\n";
    return 2;
  }
  try {
    std::ifstream f(argv[1]);
    if (!f) throw nsal::Error(std::string("cannot open ") + argv[1]);
    const json spec = json::parse(f);
    nsal::g_dir = spec.at("dir").get<std::string>();
    const std::string op = spec.at("op").get<std::string>();
    std::unique_ptr<nsal::Layer> layer =
        nsal::make_layer(op, spec.value("options", json::object()));
    if (layer)
      nsal::run_layer(*layer, spec);
    else if (!nsal::run_multi(op, spec) && !nsal::run_loss(op, spec))
      throw nsal::Error("unknown op '" + op + "'");
  } catch (const std::exception& e) {
    std::cerr << "nsal_layer_probe: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
