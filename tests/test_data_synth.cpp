#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "data/synth.h"
#include "tests/test_data_util.h"

namespace nsal::data {

namespace {

CryoEtOptions small_cryoet() {
  CryoEtOptions o;
  o.classes = 4;
  o.train_per_class = 3;
  o.test_per_class = 2;
  o.size = 16;
  o.max_shift = 1.5;
  o.seed = 11;
  return o;
}

double variance(const float* p, int64_t n) {
  double s = 0, ss = 0;
  for (int64_t i = 0; i < n; ++i) {
    s += p[i];
    ss += double(p[i]) * p[i];
  }
  return ss / n - (s / n) * (s / n);
}

}  // namespace

TEST(DataSynthCryoEt, ShapesLabelsAndDeterminism) {
  CryoEtOptions o = small_cryoet();
  Dataset a = synth_cryoet(o, "train");
  EXPECT_EQ(a.x.shape(), (Shape{12, 1, 16, 16, 16}));
  EXPECT_EQ(a.y.at(5), 1);
  EXPECT_EQ(a.num_classes, 4);
  EXPECT_NO_THROW(validate(a));
  Dataset b = synth_cryoet(o, "train");
  EXPECT_EQ(a.x.to_vector(), b.x.to_vector());
  Dataset t = synth_cryoet(o, "test");
  EXPECT_EQ(t.size(), 8);
  EXPECT_NE(t.x.at(100), a.x.at(100));  // test samples are not train samples
  o.seed = 12;
  EXPECT_NE(synth_cryoet(o, "train").x.to_vector(), a.x.to_vector());
  // The thread count does not change the data.
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Dataset one = synth_cryoet(small_cryoet(), "train");
  omp_set_num_threads(threads);
  EXPECT_EQ(one.x.to_vector(), a.x.to_vector());
}

TEST(DataSynthCryoEt, NoiseIsAtTheRequestedSnr) {
  CryoEtOptions clean = small_cryoet(), noisy = small_cryoet();
  clean.snr = 1e12;  // the same poses (noise is drawn last), practically no noise
  noisy.snr = 0.03;
  Dataset c = synth_cryoet(clean, "train"), n = synth_cryoet(noisy, "train");
  int64_t vox = 16 * 16 * 16;
  for (int64_t i = 0; i < c.size(); ++i) {
    const float* s = c.x.data<float>() + i * vox;
    std::vector<float> noise(static_cast<size_t>(vox));
    for (int64_t v = 0; v < vox; ++v)
      noise[static_cast<size_t>(v)] = n.x.data<float>()[i * vox + v] - s[v];
    double snr = variance(s, vox) / variance(noise.data(), vox);
    EXPECT_NEAR(snr, 0.03, 0.03 * 0.08) << "sample " << i;  // 4096 voxels: ~2% sampling error
  }
}

TEST(DataSynthCryoEt, SamplesAreRotatedShiftedTemplates) {
  CryoEtOptions o = small_cryoet();
  o.snr = 1e12;
  Tensor tpl = cryoet_templates(o);
  Dataset d = synth_cryoet(o, "train");
  int64_t vox = 16 * 16 * 16;
  for (int64_t i = 0; i < d.size(); ++i) {
    int c = d.y.data<int32_t>()[i];
    double mass_t = 0, mass_s = 0, diff = 0;
    for (int64_t v = 0; v < vox; ++v) {
      mass_t += tpl.data<float>()[c * vox + v];
      mass_s += d.x.data<float>()[i * vox + v];
      diff += std::fabs(tpl.data<float>()[c * vox + v] - d.x.data<float>()[i * vox + v]);
    }
    // A rigid motion keeps the density's mass (blobs stay inside the volume) ...
    EXPECT_NEAR(mass_s, mass_t, 0.02 * mass_t) << "sample " << i;
    // ... but moves it: the sample is not the template itself.
    EXPECT_GT(diff, 0.1 * mass_t) << "sample " << i;
  }
  // The classes differ from one another.
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b) {
      double dot = 0, na = 0, nb = 0;
      for (int64_t v = 0; v < vox; ++v) {
        double p = tpl.data<float>()[a * vox + v], q = tpl.data<float>()[b * vox + v];
        dot += p * q;
        na += p * p;
        nb += q * q;
      }
      EXPECT_LT(dot / std::sqrt(na * nb), 0.95) << a << " vs " << b;
    }
}

TEST(DataSynthCryoEt, FileHoldsTheSameVolumes) {
  nsal::testing::TempDir dir;
  ConvertOptions out;
  out.output = dir / "cryo.h5";
  write_synth_cryoet(small_cryoet(), out);
  Dataset f = read_dataset(out.output, "test");
  EXPECT_EQ(f.x.to_vector(), synth_cryoet(small_cryoet(), "test").x.to_vector());
  EXPECT_NE(f.source.find("snr=0.03"), std::string::npos);
  ASSERT_EQ(f.mean.size(), 1u);
}

TEST(DataSynthSmall, ImagesRegressionAndSegmentation) {
  SynthOptions o;
  o.train = 40;
  o.test = 10;
  o.classes = 3;
  o.channels = 2;
  Dataset img = synth_images(o, "train");
  EXPECT_EQ(img.x.shape(), (Shape{40, 2, 16, 16}));
  EXPECT_NO_THROW(validate(img));
  EXPECT_EQ(img.x.to_vector(), synth_images(o, "train").x.to_vector());

  o.noise = 0;
  Dataset r = synth_regression(o, "test");
  EXPECT_EQ(r.x.shape(), (Shape{10, 8}));
  EXPECT_NO_THROW(validate(r));
  // With no noise, z = y - sin(2 x0) - 0.5 x1^2 is linear in x: fit w on 8 samples (Gaussian
  // elimination), then it predicts the other 2.
  double a[8][9];
  auto z = [&](int64_t i) {
    const float* x = r.x.data<float>() + i * 8;
    return r.y.at(i) - std::sin(2 * x[0]) - 0.5 * x[1] * x[1];
  };
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j)
      a[i][j] = r.x.at(i * 8 + j);
    a[i][8] = z(i);
  }
  for (int c = 0; c < 8; ++c) {
    int piv = c;
    for (int i = c + 1; i < 8; ++i)
      if (std::fabs(a[i][c]) > std::fabs(a[piv][c])) piv = i;
    std::swap(a[c], a[piv]);
    for (int i = 0; i < 8; ++i)
      if (i != c) {
        double f = a[i][c] / a[c][c];
        for (int j = c; j < 9; ++j)
          a[i][j] -= f * a[c][j];
      }
  }
  for (int64_t i = 8; i < 10; ++i) {
    double pred = 0;
    for (int j = 0; j < 8; ++j)
      pred += a[j][8] / a[j][j] * r.x.at(i * 8 + j);
    EXPECT_NEAR(pred, z(i), 1e-3) << "sample " << i;
  }

  o.noise = 0.05;
  Dataset s = synth_segmentation(o, "train");
  EXPECT_EQ(s.y.shape(), (Shape{40, 16, 16}));
  EXPECT_NO_THROW(validate(s));
  auto counts = class_counts(s);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1] + counts[2], 0);
  // Brightness follows the class: class-2 pixels are brighter than background on average.
  double bg = 0, fg = 0;
  int64_t nbg = 0, nfg = 0;
  for (int64_t i = 0; i < 40 * 256; ++i) {
    int64_t img_i = i / 256, p = i % 256;
    double v = s.x.data<float>()[img_i * 512 + p];
    if (s.y.data<int32_t>()[i] == 0) {
      bg += v;
      ++nbg;
    } else if (s.y.data<int32_t>()[i] == 2) {
      fg += v;
      ++nfg;
    }
  }
  ASSERT_GT(nfg, 0);
  EXPECT_GT(fg / nfg, bg / nbg + 0.3);

  nsal::testing::TempDir dir;
  ConvertOptions out;
  out.output = dir / "seg.h5";
  write_synth(SynthKind::segmentation, o, out);
  EXPECT_EQ(read_dataset(out.output, "train").y.to_vector(), s.y.to_vector());
}

}  // namespace nsal::data
