// Synthetic cryo-ET subtomograms (see data/synth.h and docs/data-format.md).
#include <algorithm>
#include <cmath>

#include "data/dataset_writer.h"
#include "data/rng.h"
#include "data/synth.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

struct Blob {
  double pos[3];  // (z, y, x) offset from the volume centre, voxels
  double sigma, amp;
};

constexpr uint64_t kSampleStream = uint64_t(1) << 40;  // streams below are the templates'

void check(const CryoEtOptions& o) {
  NSAL_CHECK_AS(DataError, o.classes >= 1 && o.size >= 4 && o.size <= 256,
                "cryoet: classes {} and size {} (need classes >= 1, 4 <= size <= 256)", o.classes,
                o.size);
  NSAL_CHECK_AS(DataError, o.train_per_class >= 1 && o.test_per_class >= 1,
                "cryoet: {} train and {} test samples per class (each must be >= 1)",
                o.train_per_class, o.test_per_class);
  NSAL_CHECK_AS(DataError, o.snr > 0 && std::isfinite(o.snr), "cryoet: SNR {} must be > 0", o.snr);
  NSAL_CHECK_AS(DataError, o.min_blobs >= 1 && o.max_blobs >= o.min_blobs,
                "cryoet: blobs per template {}..{}", o.min_blobs, o.max_blobs);
  NSAL_CHECK_AS(DataError, o.max_shift >= 0 && o.max_shift < o.size / 4.0,
                "cryoet: shift {} must be in [0, size / 4)", o.max_shift);
}

// Class c: min_blobs..max_blobs blobs at uniform points of a ball of radius 0.28 size, with
// widths 0.8..2.0 voxels and amplitudes 0.5..1 (scaled with size / 32).
std::vector<Blob> make_template(const CryoEtOptions& o, int c) {
  Rng rng(o.seed, static_cast<uint64_t>(c));
  double scale = o.size / 32.0;
  int k = o.min_blobs +
          static_cast<int>(rng.below(static_cast<uint64_t>(o.max_blobs - o.min_blobs + 1)));
  std::vector<Blob> blobs;
  for (int b = 0; b < k; ++b) {
    Blob bl{};
    double r2;
    do {
      for (double& p : bl.pos)
        p = rng.uniform(-1, 1);
      r2 = bl.pos[0] * bl.pos[0] + bl.pos[1] * bl.pos[1] + bl.pos[2] * bl.pos[2];
    } while (r2 > 1);
    for (double& p : bl.pos)
      p *= 0.28 * o.size;
    bl.sigma = rng.uniform(0.8, 2.0) * scale;
    bl.amp = rng.uniform(0.5, 1.0);
    blobs.push_back(bl);
  }
  return blobs;
}

// A uniformly distributed rotation (Shoemake's random unit quaternion), row-major 3x3.
void random_rotation(Rng& rng, double r[9]) {
  double u1 = rng.uniform(), u2 = rng.uniform(), u3 = rng.uniform();
  double a = std::sqrt(1 - u1), b = std::sqrt(u1);
  double w = a * std::sin(6.283185307179586 * u2), x = a * std::cos(6.283185307179586 * u2);
  double y = b * std::sin(6.283185307179586 * u3), z = b * std::cos(6.283185307179586 * u3);
  r[0] = 1 - 2 * (y * y + z * z);
  r[1] = 2 * (x * y - z * w);
  r[2] = 2 * (x * z + y * w);
  r[3] = 2 * (x * y + z * w);
  r[4] = 1 - 2 * (x * x + z * z);
  r[5] = 2 * (y * z - x * w);
  r[6] = 2 * (x * z - y * w);
  r[7] = 2 * (y * z + x * w);
  r[8] = 1 - 2 * (x * x + y * y);
}

// Adds the blobs, rotated by r and shifted, to a size^3 volume. Each blob is separable, so it is
// an outer product of three 1-D Gaussians.
void render(const std::vector<Blob>& blobs, const double r[9], const double shift[3], int size,
            float* vol) {
  std::fill(vol, vol + static_cast<int64_t>(size) * size * size, 0.f);
  double centre = (size - 1) / 2.0;
  std::vector<float> g[3];
  for (auto& v : g)
    v.resize(static_cast<size_t>(size));
  for (const Blob& b : blobs) {
    double p[3];
    for (int i = 0; i < 3; ++i)
      p[i] = r[3 * i] * b.pos[0] + r[3 * i + 1] * b.pos[1] + r[3 * i + 2] * b.pos[2] + shift[i] +
             centre;
    double inv = 1.0 / (2 * b.sigma * b.sigma);
    for (int a = 0; a < 3; ++a)
      for (int i = 0; i < size; ++i)
        g[a][static_cast<size_t>(i)] = static_cast<float>(std::exp(-(i - p[a]) * (i - p[a]) * inv));
    float amp = static_cast<float>(b.amp);
    for (int z = 0; z < size; ++z) {
      float gz = amp * g[0][static_cast<size_t>(z)];
      if (gz < 1e-7f) continue;
      for (int y = 0; y < size; ++y) {
        float gzy = gz * g[1][static_cast<size_t>(y)];
        if (gzy < 1e-7f) continue;
        float* row = vol + (static_cast<int64_t>(z) * size + y) * size;
        for (int x = 0; x < size; ++x)
          row[x] += gzy * g[2][static_cast<size_t>(x)];
      }
    }
  }
}

// Sample i of a split (0 train, 1 test): class i % classes, random pose, noise at the SNR.
void make_sample(const CryoEtOptions& o, const std::vector<std::vector<Blob>>& templates,
                 int split_id, int64_t i, float* vol, int32_t* label) {
  Rng rng(o.seed, kSampleStream * static_cast<uint64_t>(split_id + 1) + static_cast<uint64_t>(i));
  int c = static_cast<int>(i % o.classes);
  double r[9], shift[3];
  random_rotation(rng, r);
  for (double& s : shift)
    s = rng.uniform(-o.max_shift, o.max_shift);
  render(templates[static_cast<size_t>(c)], r, shift, o.size, vol);
  int64_t n = static_cast<int64_t>(o.size) * o.size * o.size;
  double sum = 0, sumsq = 0;
  for (int64_t v = 0; v < n; ++v) {
    sum += vol[v];
    sumsq += double(vol[v]) * vol[v];
  }
  double mean = sum / n, var = std::max(sumsq / n - mean * mean, 1e-30);
  double sigma = std::sqrt(var / o.snr);
  for (int64_t v = 0; v < n; ++v)
    vol[v] += static_cast<float>(sigma * rng.normal());
  *label = c;
}

std::vector<std::vector<Blob>> all_templates(const CryoEtOptions& o) {
  std::vector<std::vector<Blob>> t;
  for (int c = 0; c < o.classes; ++c)
    t.push_back(make_template(o, c));
  return t;
}

void fill(const CryoEtOptions& o, const std::vector<std::vector<Blob>>& templates, int split_id,
          int64_t first, Tensor& x, Tensor& y) {
  int64_t k = x.dim(0), vox = x.numel() / std::max<int64_t>(1, k);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t j = 0; j < k; ++j)
    make_sample(o, templates, split_id, first + j, x.data<float>() + j * vox,
                y.data<int32_t>() + j);
}

std::vector<std::string> class_names(int classes) {
  std::vector<std::string> names;
  for (int c = 0; c < classes; ++c)
    names.push_back(fmt::format("class{:02d}", c));
  return names;
}

}  // namespace

Tensor cryoet_templates(const CryoEtOptions& o) {
  check(o);
  auto templates = all_templates(o);
  Tensor t({o.classes, 1, o.size, o.size, o.size});
  double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, zero[3] = {0, 0, 0};
  int64_t vox = static_cast<int64_t>(o.size) * o.size * o.size;
  for (int c = 0; c < o.classes; ++c)
    render(templates[static_cast<size_t>(c)], id, zero, o.size, t.data<float>() + c * vox);
  return t;
}

Dataset synth_cryoet(const CryoEtOptions& o, const std::string& split) {
  check(o);
  NSAL_CHECK_AS(DataError, split == "train" || split == "test", "cryoet: unknown split '{}'",
                split);
  int split_id = split == "train" ? 0 : 1;
  int64_t n = o.classes * (split_id == 0 ? o.train_per_class : o.test_per_class);
  Dataset d;
  d.task = Task::classification;
  d.num_classes = o.classes;
  d.class_names = class_names(o.classes);
  d.split = split;
  d.x = Tensor({n, 1, o.size, o.size, o.size}, DType::f32, Device::cpu(), "cryo-ET volumes");
  d.y = Tensor({n}, DType::i32);
  fill(o, all_templates(o), split_id, 0, d.x, d.y);
  return d;
}

void write_synth_cryoet(const CryoEtOptions& o, const ConvertOptions& out) {
  check(o);
  auto templates = all_templates(o);
  DatasetInfo info;
  info.task = Task::classification;
  info.num_classes = o.classes;
  info.class_names = class_names(o.classes);
  SourceRecord src("synth cryoet");
  src.note(
      fmt::format("classes={} train_per_class={} test_per_class={} size={} snr={} "
                  "blobs={}..{} max_shift={} seed={}",
                  o.classes, o.train_per_class, o.test_per_class, o.size, o.snr, o.min_blobs,
                  o.max_blobs, o.max_shift, o.seed));
  src.apply(info);
  apply_overrides(out, info);
  DatasetWriter w(out.output, info, {out.force, out.deflate});
  const int64_t block = 256;
  for (int s = 0; s < 2; ++s) {
    int64_t n = o.classes * (s == 0 ? o.train_per_class : o.test_per_class);
    w.begin_split(s == 0 ? "train" : "test", n, {1, o.size, o.size, o.size}, DType::f32, {},
                  DType::i32);
    for (int64_t b0 = 0; b0 < n; b0 += block) {
      int64_t k = std::min(block, n - b0);
      Tensor x({k, 1, o.size, o.size, o.size}, DType::f32, Device::cpu(), "cryo-ET volumes");
      Tensor y({k}, DType::i32);
      fill(o, templates, s, b0, x, y);
      w.append(x, y);
      out.note(fmt::format("{}: {}/{} volumes", s == 0 ? "train" : "test", b0 + k, n));
    }
    w.end_split();
  }
  w.finish();
}

}  // namespace nsal::data
