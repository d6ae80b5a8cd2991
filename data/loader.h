// Batches from an index subset of a dataset (the labelled or the unlabelled pool), with seeded
// shuffling, augmentation and normalisation, prepared ahead by prefetch threads.
//
// Determinism: epoch e's order is a Fisher-Yates shuffle of the subset by Philox stream
// (seed, e), and a sample's crop and flip depend only on (seed, e, dataset index). Batches come
// out in order, each filled by whichever thread, so the result is bit-identical whatever the
// prefetch depth, the thread count or the timing.
//
//   Loader loader(dataset, pool.labelled(), opts);
//   for (int64_t e = 0; e < epochs; ++e) {
//     loader.start_epoch(e);
//     Batch b;
//     while (loader.next(b)) train_step(b.x, b.y);  // b's buffers are recycled by the loader
//   }
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/augment.h"
#include "data/sample_source.h"

namespace nsal::data {

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;  // drop a last batch smaller than batch_size
  uint64_t seed = 0;
  Augment augment;        // images only (samples of rank >= 3)
  bool normalize = true;  // (x - mean) / std per channel, the dataset's statistics
  int prefetch = 4;       // batches prepared ahead (the bounded queue's length)
  int workers = 1;        // threads preparing batches; 0 prepares them in next() itself
};

struct Batch {
  Tensor x;  // float32 (B, ...) augmented and normalised
  Tensor y;  // int32 (B) classes | int32 (B, H, W) masks | float32 (B) or (B, T) targets
  std::vector<int64_t> indices;     // the dataset index of each row
  int64_t epoch = -1, number = -1;  // which epoch, which batch of it
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

// 0, 1, ..., n - 1: the whole split as a subset.
std::vector<int64_t> all_indices(int64_t n);

class Loader {
 public:
  Loader(std::shared_ptr<const SampleSource> source, std::vector<int64_t> subset,
         const LoaderOptions& opts);
  // Borrows `d`, which must outlive the loader.
  Loader(const Dataset& d, std::vector<int64_t> subset, const LoaderOptions& opts);
  ~Loader();  // stops and joins the prefetch threads
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts (or restarts) producing epoch `epoch`'s batches; a running epoch is abandoned.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch into `batch` (whose old buffers the loader reuses);
  // false at the end of the epoch. Starts epoch 0 when no epoch was started. An error while
  // preparing the batch (a corrupt file) is rethrown here and ends the epoch. One consumer:
  // next() and start_epoch() are not to be called from several threads at once.
  bool next(Batch& batch);

  int64_t batches_per_epoch() const;
  int64_t size() const;  // samples in the subset
  const SampleSource& source() const;
  const LoaderOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nsal::data
