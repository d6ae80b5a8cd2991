#include "data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "data/rng.h"

namespace nsal::data {

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(0, n)));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// Batch b of the current epoch goes to slot b % slots.size(). Workers claim batch numbers in
// order, at most slots.size() ahead of the consumer, so a slot is free when it is claimed.
struct Loader::Impl {
  std::shared_ptr<const SampleSource> src;
  std::vector<int64_t> subset;
  LoaderOptions o;
  Shape x_shape, y_shape;
  int64_t x_row = 0, y_row = 0;
  std::vector<float> mean, inv_std;
  bool is_mask = false, augment = false;
  int32_t mask_fill = 0;

  struct Slot {
    Batch batch;
    std::vector<float> raw_x;    // samples as read, before augmentation
    std::vector<int32_t> raw_y;  // masks as read
    bool ready = false;
    std::exception_ptr error;
  };
  std::mutex mu;
  std::condition_variable cv_work, cv_ready;
  std::vector<Slot> slots;
  std::vector<int64_t> order;  // this epoch's sample order (changed only when no worker is busy)
  int64_t epoch = -1, nbatches = 0, claimed = 0, consumed = 0;
  uint64_t generation = 0;
  int busy = 0;
  bool stop = false;
  std::vector<std::thread> threads;

  void fill(Slot& s, int64_t b, int64_t ep) {
    int64_t begin = b * o.batch_size;
    int64_t k = std::min(o.batch_size, static_cast<int64_t>(order.size()) - begin);
    Batch& out = s.batch;
    out.indices.assign(order.begin() + begin, order.begin() + begin + k);
    out.epoch = ep;
    out.number = b;
    Shape xs = {k}, ys = {k};
    xs.insert(xs.end(), x_shape.begin(), x_shape.end());
    ys.insert(ys.end(), y_shape.begin(), y_shape.end());
    out.x.resize(xs, DType::f32, Device::cpu(), "batch x");
    out.y.resize(ys, src->y_dtype(), Device::cpu(), "batch y");
    bool plain = !augment && mean.empty();
    float* raw = out.x.data<float>();
    if (!plain) {
      s.raw_x.resize(static_cast<size_t>(k * x_row));
      raw = s.raw_x.data();
    }
    void* ydst = out.y.raw();
    if (is_mask && augment) {
      s.raw_y.resize(static_cast<size_t>(k * y_row));
      ydst = s.raw_y.data();
    }
    src->read(out.indices.data(), k, raw, ydst);
    if (plain) return;
    // Images (C, H, W) or volumes (C, D, H, W): planes of H x W. Tables (F) and sequences
    // (C, L): a plane per channel (a table's features are its channels, each normalised alone).
    const bool image = x_shape.size() >= 3;
    int64_t h = image ? x_shape[x_shape.size() - 2] : 1;
    int64_t w = image ? x_shape.back() : x_shape.empty() ? 1 : x_row / x_shape[0];
    int64_t planes = x_row / (h * w);
    for (int64_t i = 0; i < k; ++i) {
      AugmentDraw d;
      if (augment)
        d = draw_augment(o.augment, o.seed, static_cast<uint64_t>(ep),
                         static_cast<uint64_t>(out.indices[static_cast<size_t>(i)]));
      augment_sample(raw + i * x_row, out.x.data<float>() + i * x_row, planes, h, w, d,
                     o.augment.crop_padding, mean, inv_std);
      if (is_mask && augment)
        augment_mask(s.raw_y.data() + i * y_row, out.y.data<int32_t>() + i * y_row, h, w, d,
                     o.augment.crop_padding, mask_fill);
    }
  }

  void worker() {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      cv_work.wait(lk, [&] {
        return stop || (epoch >= 0 && claimed < nbatches &&
                        claimed < consumed + static_cast<int64_t>(slots.size()));
      });
      if (stop) return;
      int64_t b = claimed++;
      uint64_t gen = generation;
      int64_t ep = epoch;
      Slot& s = slots[static_cast<size_t>(b % static_cast<int64_t>(slots.size()))];
      ++busy;
      lk.unlock();
      std::exception_ptr err;
      try {
        fill(s, b, ep);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      --busy;
      if (gen == generation) {
        s.ready = true;
        s.error = err;
      }
      cv_ready.notify_all();
    }
  }

  // Caller holds `lk`.
  void begin(int64_t e, std::unique_lock<std::mutex>& lk) {
    ++generation;  // batches in flight for the old epoch are discarded when they finish
    cv_ready.wait(lk, [&] { return busy == 0; });
    for (Slot& s : slots) {
      s.ready = false;
      s.error = nullptr;
    }
    order = subset;
    if (o.shuffle) {
      Rng rng(o.seed, static_cast<uint64_t>(e));
      shuffle(order, rng);
    }
    int64_t n = static_cast<int64_t>(order.size());
    nbatches = o.drop_last ? n / o.batch_size : (n + o.batch_size - 1) / o.batch_size;
    order.resize(static_cast<size_t>(std::min(n, nbatches * o.batch_size)));
    epoch = e;
    claimed = consumed = 0;
    cv_work.notify_all();
  }
};

Loader::Loader(std::shared_ptr<const SampleSource> source, std::vector<int64_t> subset,
               const LoaderOptions& opts)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  NSAL_CHECK_AS(DataError, source != nullptr, "Loader: no sample source");
  m.src = std::move(source);
  m.subset = std::move(subset);
  m.o = opts;
  const SampleSource& s = *m.src;
  NSAL_CHECK_AS(DataError, opts.batch_size >= 1, "{}: batch size {} must be >= 1", s.name(),
                opts.batch_size);
  NSAL_CHECK_AS(DataError, opts.prefetch >= 1 && opts.workers >= 0 && opts.workers <= 64,
                "{}: prefetch {} must be >= 1 and workers {} in [0, 64]", s.name(), opts.prefetch,
                opts.workers);
  for (int64_t i : m.subset)
    NSAL_CHECK_AS(DataError, i >= 0 && i < s.size(), "{}: subset index {} outside [0, {})",
                  s.name(), i, s.size());
  m.x_shape = s.x_shape();
  m.y_shape = s.y_shape();
  m.x_row = shape_numel(m.x_shape);
  m.y_row = shape_numel(m.y_shape);
  m.augment = opts.augment.enabled();
  NSAL_CHECK_AS(DataError, !m.augment || m.x_shape.size() >= 3,
                "{}: crop and flip need image samples (C, H, W) or (C, D, H, W), not {}", s.name(),
                shape_str(m.x_shape));
  NSAL_CHECK_AS(DataError,
                opts.augment.crop_padding >= 0 &&
                    (m.x_shape.size() < 3 || opts.augment.crop_padding < m.x_shape.back()),
                "{}: crop padding {} for samples {}", s.name(), opts.augment.crop_padding,
                shape_str(m.x_shape));
  const DatasetInfo& info = s.info();
  m.is_mask = info.task == Task::segmentation;
  m.mask_fill = info.ignore_index >= 0 ? info.ignore_index : 0;
  if (opts.normalize && !info.mean.empty()) {
    NSAL_CHECK_AS(DataError, static_cast<int64_t>(info.mean.size()) == m.x_shape[0],
                  "{}: {} normalisation values for samples {}", s.name(), info.mean.size(),
                  shape_str(m.x_shape));
    m.mean = info.mean;
    for (float v : info.std)
      m.inv_std.push_back(1.0f / v);
  }
  m.slots.resize(static_cast<size_t>(opts.prefetch));
  for (int t = 0; t < opts.workers; ++t)
    m.threads.emplace_back([this] { impl_->worker(); });
}

Loader::Loader(const Dataset& d, std::vector<int64_t> subset, const LoaderOptions& opts)
    : Loader(memory_source(d), std::move(subset), opts) {}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv_work.notify_all();
  for (auto& t : impl_->threads)
    t.join();
}

void Loader::start_epoch(int64_t epoch) {
  NSAL_CHECK_AS(DataError, epoch >= 0, "Loader: epoch {} must be >= 0", epoch);
  std::unique_lock<std::mutex> lk(impl_->mu);
  impl_->begin(epoch, lk);
}

bool Loader::next(Batch& batch) {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lk(m.mu);
  if (m.epoch < 0) m.begin(0, lk);
  if (m.consumed >= m.nbatches) return false;
  int64_t b = m.consumed;
  Impl::Slot& s = m.slots[static_cast<size_t>(b % static_cast<int64_t>(m.slots.size()))];
  if (m.threads.empty()) {
    // No prefetch threads: prepare the batch here.
    m.claimed = b + 1;
    lk.unlock();
    try {
      m.fill(s, b, m.epoch);
    } catch (...) {
      s.error = std::current_exception();
    }
    lk.lock();
  } else {
    m.cv_ready.wait(lk, [&] { return s.ready; });
  }
  if (s.error) {
    // The epoch ends with the error; start_epoch() begins a new one.
    std::exception_ptr e = s.error;
    s.error = nullptr;
    s.ready = false;
    m.consumed = m.nbatches;
    std::rethrow_exception(e);
  }
  std::swap(batch, s.batch);
  s.ready = false;
  ++m.consumed;
  m.cv_work.notify_all();
  return true;
}

int64_t Loader::batches_per_epoch() const {
  int64_t n = size(), b = impl_->o.batch_size;
  return impl_->o.drop_last ? n / b : (n + b - 1) / b;
}

int64_t Loader::size() const {
  return static_cast<int64_t>(impl_->subset.size());
}

const SampleSource& Loader::source() const {
  return *impl_->src;
}

const LoaderOptions& Loader::options() const {
  return impl_->o;
}

}  // namespace nsal::data
