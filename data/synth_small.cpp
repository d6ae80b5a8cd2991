// Small synthetic classification, regression and segmentation sets (see data/synth.h).
#include <algorithm>
#include <cmath>

#include "data/dataset_writer.h"
#include "data/rng.h"
#include "data/synth.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

constexpr uint64_t kSampleStream = uint64_t(1) << 40;

int split_id(const std::string& split) {
  NSAL_CHECK_AS(DataError, split == "train" || split == "test", "synth: unknown split '{}'", split);
  return split == "train" ? 0 : 1;
}

int64_t split_size(const SynthOptions& o, int s) {
  return s == 0 ? o.train : o.test;
}

Rng sample_rng(const SynthOptions& o, int s, int64_t i) {
  return Rng(o.seed, kSampleStream * static_cast<uint64_t>(s + 1) + static_cast<uint64_t>(i));
}

void check(const SynthOptions& o, bool needs_classes) {
  NSAL_CHECK_AS(DataError, o.train >= 1 && o.test >= 1, "synth: {} train and {} test samples",
                o.train, o.test);
  NSAL_CHECK_AS(DataError, !needs_classes || (o.classes >= 2 && o.classes <= 255),
                "synth: {} classes (2 to 255)", o.classes);
  NSAL_CHECK_AS(DataError, o.size >= 4 && o.size <= 1024 && o.channels >= 1 && o.channels <= 16,
                "synth: size {} and channels {}", o.size, o.channels);
  NSAL_CHECK_AS(DataError, o.features >= 2 && o.features <= 100000, "synth: {} features",
                o.features);
  NSAL_CHECK_AS(DataError, o.noise >= 0 && std::isfinite(o.noise), "synth: noise {}", o.noise);
}

std::vector<std::string> numbered(const char* stem, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i)
    v.push_back(fmt::format("{}{}", stem, i));
  return v;
}

}  // namespace

Dataset synth_images(const SynthOptions& o, const std::string& split) {
  check(o, true);
  int s = split_id(split);
  int64_t n = split_size(o, s), hw = int64_t(o.size) * o.size;
  // Class k: three blobs (position, width, per-channel brightness) drawn from stream k.
  struct Blob {
    double y, x, sigma;
    std::vector<double> amp;
  };
  std::vector<std::vector<Blob>> templates(static_cast<size_t>(o.classes));
  for (int k = 0; k < o.classes; ++k) {
    Rng rng(o.seed, static_cast<uint64_t>(k));
    for (int b = 0; b < 3; ++b) {
      Blob bl{rng.uniform(0.2, 0.8) * o.size,
              rng.uniform(0.2, 0.8) * o.size,
              rng.uniform(0.06, 0.15) * o.size,
              {}};
      for (int c = 0; c < o.channels; ++c)
        bl.amp.push_back(rng.uniform(0.4, 1.0));
      templates[static_cast<size_t>(k)].push_back(bl);
    }
  }
  Dataset d;
  d.task = Task::classification;
  d.num_classes = o.classes;
  d.class_names = numbered("class", o.classes);
  d.split = split;
  d.x = Tensor::zeros({n, o.channels, o.size, o.size});
  d.y = Tensor({n}, DType::i32);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    Rng rng = sample_rng(o, s, i);
    int k = static_cast<int>(i % o.classes);
    double dy = rng.uniform(-2, 2), dx = rng.uniform(-2, 2);
    float* img = d.x.data<float>() + i * o.channels * hw;
    for (const Blob& b : templates[static_cast<size_t>(k)])
      for (int c = 0; c < o.channels; ++c)
        for (int y = 0; y < o.size; ++y)
          for (int x = 0; x < o.size; ++x) {
            double r2 = (y - b.y - dy) * (y - b.y - dy) + (x - b.x - dx) * (x - b.x - dx);
            img[c * hw + y * o.size + x] += static_cast<float>(
                b.amp[static_cast<size_t>(c)] * std::exp(-r2 / (2 * b.sigma * b.sigma)));
          }
    for (int64_t p = 0; p < o.channels * hw; ++p)
      img[p] += static_cast<float>(o.noise * rng.normal());
    d.y.data<int32_t>()[i] = k;
  }
  return d;
}

Dataset synth_regression(const SynthOptions& o, const std::string& split) {
  check(o, false);
  int s = split_id(split);
  int64_t n = split_size(o, s), f = o.features;
  std::vector<double> w(static_cast<size_t>(f));
  Rng wr(o.seed, 0);
  for (double& v : w)
    v = wr.normal() * 0.5;
  Dataset d;
  d.task = Task::regression;
  d.split = split;
  d.feature_names = numbered("x", o.features);
  d.x = Tensor({n, f});
  d.y = Tensor({n});
  for (int64_t i = 0; i < n; ++i) {
    Rng rng = sample_rng(o, s, i);
    float* x = d.x.data<float>() + i * f;
    double y = 0;
    for (int64_t j = 0; j < f; ++j) {
      x[j] = static_cast<float>(rng.normal());
      y += w[static_cast<size_t>(j)] * x[j];
    }
    y += std::sin(2 * x[0]) + 0.5 * x[1] * x[1] + o.noise * rng.normal();
    d.y.data<float>()[i] = static_cast<float>(y);
  }
  return d;
}

Dataset synth_segmentation(const SynthOptions& o, const std::string& split) {
  check(o, true);
  int s = split_id(split);
  int64_t n = split_size(o, s), hw = int64_t(o.size) * o.size;
  Dataset d;
  d.task = Task::segmentation;
  d.num_classes = o.classes;
  d.class_names = numbered("class", o.classes);
  d.class_names[0] = "background";
  d.ignore_index = 255;
  d.split = split;
  d.x = Tensor({n, o.channels, o.size, o.size});
  d.y = Tensor({n, o.size, o.size}, DType::i32);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    Rng rng = sample_rng(o, s, i);
    int32_t* m = d.y.data<int32_t>() + i * hw;
    std::fill(m, m + hw, 0);
    int shapes = 1 + static_cast<int>(rng.below(3));
    for (int k = 0; k < shapes; ++k) {
      int cls = 1 + static_cast<int>(rng.below(static_cast<uint64_t>(o.classes - 1)));
      double cy = rng.uniform(0, o.size), cx = rng.uniform(0, o.size);
      double r = rng.uniform(0.12, 0.3) * o.size;
      bool disc = cls % 2 == 0;
      for (int y = 0; y < o.size; ++y)
        for (int x = 0; x < o.size; ++x) {
          bool in = disc ? (y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r
                         : std::fabs(y - cy) <= r && std::fabs(x - cx) <= 0.7 * r;
          if (in) m[y * o.size + x] = cls;
        }
    }
    float* img = d.x.data<float>() + i * o.channels * hw;
    for (int c = 0; c < o.channels; ++c)
      for (int64_t p = 0; p < hw; ++p) {
        double level = 0.2 + 0.6 * m[p] / (o.classes - 1) + 0.05 * c;
        img[c * hw + p] = static_cast<float>(level + o.noise * rng.normal());
      }
  }
  return d;
}

void write_synth(SynthKind kind, const SynthOptions& o, const ConvertOptions& out) {
  const char* name = kind == SynthKind::images       ? "images"
                     : kind == SynthKind::regression ? "regression"
                                                     : "segmentation";
  auto make = [&](const std::string& split) {
    switch (kind) {
      case SynthKind::images:
        return synth_images(o, split);
      case SynthKind::regression:
        return synth_regression(o, split);
      default:
        return synth_segmentation(o, split);
    }
  };
  Dataset train = make("train"), test = make("test");
  SourceRecord src(std::string("synth ") + name);
  src.note(
      fmt::format("train={} test={} classes={} size={} channels={} features={} noise={} "
                  "seed={}",
                  o.train, o.test, o.classes, o.size, o.channels, o.features, o.noise, o.seed));
  src.apply(train);
  apply_overrides(out, train);
  write_dataset(out.output, train, test, {out.force, out.deflate});
}

}  // namespace nsal::data
