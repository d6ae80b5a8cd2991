#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "data/image.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/synth.h"
#include "tests/test_data_util.h"

namespace nsal::data {

using nsal::testing::TempDir;

namespace {

// 23 images (2, 5, 6) whose pixel value encodes (sample, channel, row, column); labels i % 3.
Dataset coded_images(int64_t n = 23) {
  Dataset d;
  d.task = Task::classification;
  d.num_classes = 3;
  d.x = Tensor({n, 2, 5, 6});
  for (int64_t i = 0; i < d.x.numel(); ++i)
    d.x.data<float>()[i] = static_cast<float>(i % 997) / 997.f;
  d.y = Tensor({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i)
    d.y.data<int32_t>()[i] = static_cast<int32_t>(i % 3);
  d.mean = {0.4f, 0.6f};
  d.std = {0.5f, 0.25f};
  return d;
}

std::vector<Batch> epoch_batches(Loader& l, int64_t epoch) {
  l.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (l.next(b)) {
    Batch copy;
    copy.x = b.x.clone();
    copy.y = b.y.clone();
    copy.indices = b.indices;
    copy.number = b.number;
    out.push_back(std::move(copy));
  }
  return out;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices) << "batch " << i;
    EXPECT_EQ(a[i].x.to_vector(), b[i].x.to_vector()) << "batch " << i;
    EXPECT_EQ(a[i].y.to_vector(), b[i].y.to_vector()) << "batch " << i;
  }
}

// The plain reference: zero-pad, take the window at (dy, dx), flip, normalise.
std::vector<float> reference_sample(const Dataset& d, int64_t idx, const AugmentDraw& a, int pad) {
  int64_t c = d.x.dim(1), h = d.x.dim(2), w = d.x.dim(3);
  std::vector<float> out;
  for (int64_t ch = 0; ch < c; ++ch) {
    std::vector<float> padded(static_cast<size_t>((h + 2 * pad) * (w + 2 * pad)), 0.f);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        padded[static_cast<size_t>((y + pad) * (w + 2 * pad) + x + pad)] =
            d.x.data<float>()[((idx * c + ch) * h + y) * w + x];
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        int64_t cx = a.flip ? w - 1 - x : x;
        float v = padded[static_cast<size_t>((y + a.dy) * (w + 2 * pad) + cx + a.dx)];
        out.push_back((v - d.mean[static_cast<size_t>(ch)]) / d.std[static_cast<size_t>(ch)]);
      }
  }
  return out;
}

}  // namespace

TEST(DataLoader, EverySubsetIndexOncePerEpochInBatches) {
  Dataset d = coded_images();
  std::vector<int64_t> subset = {0, 2, 3, 5, 7, 11, 13, 17, 19, 22};
  LoaderOptions o;
  o.batch_size = 4;
  o.seed = 5;
  Loader l(d, subset, o);
  EXPECT_EQ(l.batches_per_epoch(), 3);
  auto batches = epoch_batches(l, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2].indices.size(), 2u);
  std::multiset<int64_t> seen;
  for (const auto& b : batches) {
    EXPECT_EQ(b.x.dim(0), static_cast<int64_t>(b.indices.size()));
    for (size_t i = 0; i < b.indices.size(); ++i) {
      seen.insert(b.indices[i]);
      EXPECT_EQ(b.y.at(static_cast<int64_t>(i)), b.indices[i] % 3);  // labels follow the rows
    }
  }
  EXPECT_EQ(seen, std::multiset<int64_t>(subset.begin(), subset.end()));
  // A new epoch, a new order; drop_last drops the short batch.
  auto e1 = epoch_batches(l, 1);
  EXPECT_NE(e1[0].indices, batches[0].indices);
  o.drop_last = true;
  Loader dl(d, subset, o);
  EXPECT_EQ(dl.batches_per_epoch(), 2);
  EXPECT_EQ(epoch_batches(dl, 0).size(), 2u);
  // Unshuffled: the subset's order.
  o.shuffle = false;
  o.drop_last = false;
  Loader ul(d, subset, o);
  EXPECT_EQ(epoch_batches(ul, 3)[1].indices, (std::vector<int64_t>{7, 11, 13, 17}));
  // An empty pool gives no batches.
  Loader empty(d, {}, o);
  Batch b;
  EXPECT_FALSE(empty.next(b));
}

TEST(DataLoader, SameSeedSameBatchesWhateverThePrefetching) {
  Dataset d = coded_images();
  LoaderOptions o;
  o.batch_size = 5;
  o.seed = 9;
  o.augment.crop_padding = 2;
  o.augment.hflip = true;
  o.workers = 0;
  Loader sync(d, all_indices(23), o);
  auto ref = epoch_batches(sync, 4);
  for (int workers : {1, 3}) {
    for (int prefetch : {1, 2, 6}) {
      o.workers = workers;
      o.prefetch = prefetch;
      Loader l(d, all_indices(23), o);
      epoch_batches(l, 0);  // other epochs in between change nothing
      expect_same(epoch_batches(l, 4), ref);
    }
  }
  o.seed = 10;
  Loader other(d, all_indices(23), o);
  EXPECT_NE(epoch_batches(other, 4)[0].indices, ref[0].indices);
}

TEST(DataLoader, AugmentationMatchesThePlainReference) {
  Dataset d = coded_images();
  LoaderOptions o;
  o.batch_size = 23;
  o.seed = 3;
  o.augment.crop_padding = 2;
  o.augment.hflip = true;
  Loader l(d, all_indices(23), o);
  auto batches = epoch_batches(l, 2);
  int flips = 0, shifted = 0;
  const Batch& b = batches[0];
  for (int64_t i = 0; i < b.size(); ++i) {
    int64_t idx = b.indices[static_cast<size_t>(i)];
    AugmentDraw a = draw_augment(o.augment, o.seed, 2, static_cast<uint64_t>(idx));
    flips += a.flip;
    shifted += a.dy != 2 || a.dx != 2;
    std::vector<float> want = reference_sample(d, idx, a, 2);
    std::vector<double> all = b.x.to_vector();
    std::vector<double> got(all.begin() + i * 60, all.begin() + (i + 1) * 60);
    for (size_t k = 0; k < want.size(); ++k)
      ASSERT_NEAR(got[k], want[k], 1e-6) << "sample " << idx << " element " << k;
  }
  EXPECT_GT(flips, 3);
  EXPECT_LT(flips, 20);
  EXPECT_GT(shifted, 15);
  // No augmentation, no normalisation: the data as stored.
  LoaderOptions plain;
  plain.normalize = false;
  plain.shuffle = false;
  Loader p(d, {4}, plain);
  Batch one;
  ASSERT_TRUE(p.next(one));
  std::vector<double> dx = d.x.to_vector();
  std::vector<double> row(dx.begin() + 4 * 60, dx.begin() + 5 * 60);
  EXPECT_EQ(one.x.to_vector(), row);
}

// A table's normalisation is per feature: the loader used to take the whole row for one plane
// of one channel and divided by zero (SIGFPE) on every regression dataset with mean and std.
TEST(DataLoader, TablesAreNormalisedPerFeature) {
  Dataset d;
  d.task = Task::regression;
  d.x = Tensor({9, 3});
  for (int64_t i = 0; i < d.x.numel(); ++i)
    d.x.data<float>()[i] = static_cast<float>(i);
  d.y = Tensor({9});
  for (int64_t i = 0; i < 9; ++i)
    d.y.data<float>()[i] = static_cast<float>(i);
  d.mean = {1.f, 2.f, 4.f};
  d.std = {2.f, 0.5f, 4.f};
  LoaderOptions o;
  o.batch_size = 4;
  o.normalize = true;
  Loader l(d, all_indices(9), o);
  std::vector<Batch> batches = epoch_batches(l, 0);
  ASSERT_EQ(batches.size(), 3u);
  for (const Batch& b : batches)
    for (size_t r = 0; r < b.indices.size(); ++r)
      for (int64_t f = 0; f < 3; ++f) {
        const float v = static_cast<float>(b.indices[r] * 3 + f);
        EXPECT_FLOAT_EQ(b.x.data<float>()[r * 3 + f], (v - d.mean[f]) / d.std[f])
            << "sample " << b.indices[r] << " feature " << f;
      }
}

TEST(DataLoader, SegmentationGetsTheSameCropAndFlipOnImageAndMask) {
  Dataset d;
  d.task = Task::segmentation;
  d.num_classes = 200;
  d.ignore_index = 255;
  int64_t n = 6, h = 7, w = 9;
  d.x = Tensor({n, 1, h, w});
  d.y = Tensor({n, h, w}, DType::i32);
  for (int64_t i = 0; i < n * h * w; ++i) {
    int32_t code = static_cast<int32_t>(1 + (i % (h * w)) % 199);  // never 0: padding shows
    d.x.data<float>()[i] = static_cast<float>(code);
    d.y.data<int32_t>()[i] = code;
  }
  LoaderOptions o;
  o.batch_size = 6;
  o.normalize = false;
  o.augment.crop_padding = 3;
  o.augment.hflip = true;
  o.seed = 1;
  Loader l(d, all_indices(n), o);
  auto batches = epoch_batches(l, 0);
  const Batch& b = batches[0];
  int padded = 0;
  for (int64_t i = 0; i < b.x.numel(); ++i) {
    float x = b.x.data<float>()[i];
    int32_t m = b.y.data<int32_t>()[i];
    if (x == 0.f) {
      EXPECT_EQ(m, 255) << "padding: image 0, mask the ignore label";
      ++padded;
    } else {
      EXPECT_EQ(m, static_cast<int32_t>(x)) << "pixel " << i;
    }
  }
  EXPECT_GT(padded, 0);
}

TEST(DataLoader, ChunkedFileReadsGiveTheSameBatchesAsMemory) {
  TempDir dir;
  SynthOptions so;
  so.train = 57;
  so.test = 5;
  so.classes = 3;
  ConvertOptions co;
  co.output = dir / "s.h5";
  write_synth(SynthKind::images, so, co);
  SourceOptions chunked;
  chunked.chunked = true;
  auto mem = open_source(co.output, "train");
  auto file = open_source(co.output, "train", chunked);
  EXPECT_EQ(file->size(), 57);
  LoaderOptions o;
  o.batch_size = 8;
  o.augment.hflip = true;
  o.workers = 2;
  std::vector<int64_t> subset = {1, 2, 3, 4, 10, 11, 30, 56, 55, 0, 20};
  Loader a(mem, subset, o), b(file, subset, o);
  expect_same(epoch_batches(a, 1), epoch_batches(b, 1));
}

TEST(DataLoader, ImageFilesAreDecodedByTheLoader) {
  TempDir dir;
  std::string root = dir / "imgs";
  using nsal::testing::rgb_pattern;
  nsal::testing::write_bytes(root + "/train/a/0.png", encode_png(rgb_pattern(10, 12, 0)));
  nsal::testing::write_bytes(root + "/train/b/1.png", encode_png(rgb_pattern(12, 9, 1)));
  nsal::testing::write_bytes(root + "/test/a/2.png", encode_png(rgb_pattern(9, 9, 2)));
  ImageFolderOptions fo;
  fo.resize = 8;
  fo.crop = 8;
  ConvertOptions co;
  co.output = dir / "inline.h5";
  convert_image_folder(root, fo, co);
  fo.keep_files = true;
  co.output = dir / "files.h5";
  convert_image_folder(root, fo, co);
  LoaderOptions o;
  o.normalize = false;
  o.shuffle = false;
  Loader inl(open_source(dir / "inline.h5", "train"), all_indices(2), o);
  Loader fil(open_source(dir / "files.h5", "train"), all_indices(2), o);
  expect_same(epoch_batches(inl, 0), epoch_batches(fil, 0));
  // A file that went bad after conversion: the loader names it, the epoch ends, the next works.
  auto bytes = nsal::testing::read_bytes(root + "/train/b/1.png");
  nsal::testing::write_bytes(root + "/train/b/1.png",
                             std::vector<uint8_t>(bytes.begin(), bytes.begin() + 40));
  Loader bad(open_source(dir / "files.h5", "train"), all_indices(2), o);
  Batch b;
  try {
    while (bad.next(b)) {
    }
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train/b/1.png"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(bad.next(b));
  nsal::testing::write_bytes(root + "/train/b/1.png", bytes);
  bad.start_epoch(1);
  int count = 0;
  while (bad.next(b))
    ++count;
  EXPECT_EQ(count, 1);
}

TEST(DataLoader, BadOptionsAndCleanShutdown) {
  Dataset d = coded_images();
  LoaderOptions o;
  EXPECT_THROW(Loader(d, {0, 23}, o), DataError);
  EXPECT_THROW(Loader(d, {-1}, o), DataError);
  o.batch_size = 0;
  EXPECT_THROW(Loader(d, {0}, o), DataError);
  Dataset r;
  r.task = Task::regression;
  r.x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  r.y = Tensor::from_vector({1, 2}, {2});
  LoaderOptions flip;
  flip.augment.hflip = true;
  EXPECT_THROW(Loader(r, {0, 1}, flip), DataError);
  // Destroyed mid-epoch with full queues, or restarted mid-epoch: no hang, right batches.
  LoaderOptions busy;
  busy.batch_size = 2;
  busy.workers = 3;
  busy.prefetch = 2;
  for (int rep = 0; rep < 20; ++rep) {
    Loader l(d, all_indices(23), busy);
    Batch b;
    l.next(b);
    if (rep % 2) {
      l.start_epoch(7);
      ASSERT_TRUE(l.next(b));
      EXPECT_EQ(b.epoch, 7);
      EXPECT_EQ(b.number, 0);
    }
  }
}

}  // namespace nsal::data
