// Loader throughput: images per second that the loader delivers to a consumer that does nothing
// else, with and without augmentation, from memory and from chunked HDF5 reads. A training step
// is fed when this rate is well above the training rate (mnist-cnn's CPU rate goes beside it
// once that model exists).
//
//   bench_loader [--repeats N] [--workers N] [--json FILE]
//
// Validates the batches first (every index once per epoch; rows equal the normalised data),
// warms up, then reports the median epoch time and images/s.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench_output.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/synth.h"
#include "kernels/backend_info.h"

using namespace nsal;
using namespace nsal::data;

namespace {

struct Result {
  std::string name;
  int64_t images = 0;
  double median_s = 0, images_per_s = 0;
};

// One epoch pulled through the loader; checks the coverage, returns seconds.
double run_epoch(Loader& l, int64_t epoch, bool check) {
  auto t0 = std::chrono::steady_clock::now();
  l.start_epoch(epoch);
  Batch b;
  std::vector<char> seen;
  if (check) seen.assign(static_cast<size_t>(l.source().size()), 0);
  int64_t rows = 0;
  while (l.next(b)) {
    rows += b.size();
    if (check)
      for (int64_t i : b.indices) {
        if (seen[static_cast<size_t>(i)]++) throw Error(fmt::format("index {} twice", i));
      }
  }
  auto t1 = std::chrono::steady_clock::now();
  if (rows != l.size()) throw Error(fmt::format("epoch gave {} rows for {}", rows, l.size()));
  return std::chrono::duration<double>(t1 - t0).count();
}

// Unaugmented, normalised rows must equal (x - mean) / std of the stored data.
void validate_rows(const Dataset& d, const std::shared_ptr<const SampleSource>& src) {
  LoaderOptions o;
  o.batch_size = 64;
  o.shuffle = true;
  o.seed = 1;
  Loader l(src, all_indices(src->size()), o);
  Batch b;
  if (!l.next(b)) throw Error("no batch");
  int64_t row = b.x.numel() / b.size();
  int64_t c = d.x.dim(1), per = row / c;
  for (int64_t r = 0; r < b.size(); ++r) {
    int64_t idx = b.indices[static_cast<size_t>(r)];
    for (int64_t k = 0; k < row; ++k) {
      double raw = d.x.dtype() == DType::u8 ? d.x.data<uint8_t>()[idx * row + k] / 255.0
                                            : d.x.data<float>()[idx * row + k];
      double want = (raw - d.mean[k / per]) / d.std[k / per];
      if (std::fabs(b.x.data<float>()[r * row + k] - want) > 1e-4)
        throw Error(fmt::format("{}: row {} element {}: {} vs {}", src->name(), idx, k,
                                b.x.data<float>()[r * row + k], want));
    }
  }
}

Result measure(const std::string& name, std::shared_ptr<const SampleSource> src,
               const LoaderOptions& o, int repeats) {
  Loader l(src, all_indices(src->size()), o);
  run_epoch(l, 0, true);  // checks the coverage, and warms up
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r)
    t.push_back(run_epoch(l, r + 1, false));
  std::sort(t.begin(), t.end());
  Result res;
  res.name = name;
  res.images = src->size();
  res.median_s = t[t.size() / 2];
  res.images_per_s = static_cast<double>(res.images) / res.median_s;
  fmt::print("{:<58} {:>8} images  {:8.3f} s  {:12.0f} images/s\n", name, res.images, res.median_s,
             res.images_per_s);
  return res;
}

Dataset random_images(int64_t n, int64_t c, int64_t hw) {
  Dataset d;
  d.task = Task::classification;
  d.num_classes = 10;
  d.split = "train";
  d.x = Tensor({n, c, hw, hw}, DType::u8);
  uint32_t s = 12345;
  for (int64_t i = 0; i < d.x.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    d.x.data<uint8_t>()[i] = static_cast<uint8_t>(s >> 24);
  }
  d.y = Tensor({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i)
    d.y.data<int32_t>()[i] = static_cast<int32_t>(i % 10);
  compute_normalisation(d, d.x);
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 5, workers = 1;
  std::string json = "bench_loader.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc)
      repeats = std::atoi(argv[++i]);
    else if (a == "--workers" && i + 1 < argc)
      workers = std::atoi(argv[++i]);
    else if (a == "--json" && i + 1 < argc)
      json = argv[++i];
    else {
      fmt::print(stderr, "usage: bench_loader [--repeats N] [--workers N] [--json FILE]\n");
      return 2;
    }
  }
  try {
    kernels::BackendInfo info = kernels::backend_info();
    fmt::print("machine: {}, {} hardware threads; loader workers {}, batch 128, median of {}\n",
               info.cpu_name, std::thread::hardware_concurrency(), workers, repeats);

    // Fashion-MNIST from the Debian package when present (else random bytes of its shape).
    auto tmp = std::filesystem::temp_directory_path() / "nsal-bench-loader";
    std::filesystem::create_directories(tmp);
    std::string fm = (tmp / "fashion-mnist.h5").string();
    std::string fm_dir = "/usr/share/datasets/fashion-mnist";
    std::string mnist_name = "fashion-mnist";
    if (std::filesystem::exists(fm_dir + "/train-images-idx3-ubyte.gz")) {
      ConvertOptions co;
      co.output = fm;
      co.force = true;
      convert_idx(find_idx_files(fm_dir), co, "fashion-mnist");
    } else {
      mnist_name = "random 1x28x28";
      Dataset r = random_images(60000, 1, 28);
      write_dataset(fm, r, random_images(1000, 1, 28), [] {
        WriteOptions w;
        w.force = true;
        return w;
      }());
    }
    Dataset fmd = read_dataset(fm, "train", [] {
      ReadOptions r;
      r.x_as_float = false;
      return r;
    }());
    auto fm_mem = memory_source(fmd);
    SourceOptions chunked;
    chunked.chunked = true;
    auto fm_file = open_source(fm, "train", chunked);
    validate_rows(fmd, fm_mem);
    validate_rows(fmd, fm_file);

    // Cryo-ET-sized volumes (128 KiB each): 2000 of them, 256 MiB, past the 64 MiB chunk cache.
    CryoEtOptions cryo;
    cryo.classes = 10;
    cryo.train_per_class = 200;
    cryo.test_per_class = 1;
    std::string cryo_path = (tmp / "cryoet.h5").string();
    ConvertOptions cco;
    cco.output = cryo_path;
    cco.force = true;
    write_synth_cryoet(cryo, cco);
    Dataset cryo_d = read_dataset(cryo_path, "train");
    auto cryo_mem = memory_source(cryo_d);
    auto cryo_file = open_source(cryo_path, "train", chunked);
    validate_rows(cryo_d, cryo_file);

    Dataset cifar = random_images(50000, 3, 32);
    auto cifar_mem = memory_source(cifar);
    validate_rows(cifar, cifar_mem);

    LoaderOptions plain;
    plain.batch_size = 128;
    plain.workers = workers;
    LoaderOptions aug = plain;
    aug.augment.crop_padding = 2;
    aug.augment.hflip = true;
    LoaderOptions cifar_aug = plain;
    cifar_aug.augment.crop_padding = 4;
    cifar_aug.augment.hflip = true;

    std::vector<Result> results;
    results.push_back(measure(mnist_name + " 1x28x28, memory, normalise", fm_mem, plain, repeats));
    results.push_back(
        measure(mnist_name + " 1x28x28, memory, crop 2 + flip + normalise", fm_mem, aug, repeats));
    results.push_back(
        measure(mnist_name + " 1x28x28, chunked HDF5, crop 2 + flip", fm_file, aug, repeats));
    results.push_back(measure("CIFAR-sized 3x32x32, memory, crop 4 + flip + normalise", cifar_mem,
                              cifar_aug, repeats));

    results.push_back(
        measure("cryo-ET 1x32x32x32, memory, flip + normalise", cryo_mem, aug, repeats));
    results.push_back(
        measure("cryo-ET 1x32x32x32, chunked HDF5, flip + normalise", cryo_file, aug, repeats));

    nsal::bench::OutputFile out(json);
    out.print(
        "{{\n  \"machine\": {},\n  \"hardware_threads\": {},\n  \"workers\": {},\n"
        "  \"batch_size\": 128,\n  \"results\": [\n",
        nsal::bench::json_quote(info.cpu_name), std::thread::hardware_concurrency(), workers);
    for (size_t i = 0; i < results.size(); ++i)
      out.print(
          "    {{\"name\": {}, \"images\": {}, \"median_s\": {:.6f}, "
          "\"images_per_s\": {:.1f}}}{}\n",
          nsal::bench::json_quote(results[i].name), results[i].images, results[i].median_s,
          results[i].images_per_s, i + 1 < results.size() ? "," : "");
    out.print("  ]\n}}\n");
    out.close();
    fmt::print("wrote {}\n", json);
    std::filesystem::remove_all(tmp);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_loader: {}\n", e.what());
    return 1;
  }
  return 0;
}
