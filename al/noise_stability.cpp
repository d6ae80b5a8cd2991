#include "al/noise_stability.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>

#include "al/training.h"
#include "data/loader.h"
#include "kernels/deviation.h"
#include "kernels/gpu_exec.h"
#include "kernels/noise_perturber.h"

namespace nsal::al {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
// Pool inputs for repeated passes. On a GPU they are kept on the device when they fit
// kInputCacheBytes (and the device has the memory), so that the passes wait neither on the
// loader nor on host copies. Otherwise, and always on the CPU, every pass streams them through
// the loader, whose worker thread overlaps the loading with the model (0.5-1% slower than a
// cache, measured on the CPU), so that acquisition holds no copy of the pool.
class PoolInputs {
 public:
  static constexpr size_t kInputCacheBytes = size_t(2) << 30;

  PoolInputs(const data::Dataset& d, const std::vector<int64_t>& pool, int batch, Device device)
      : d_(d), pool_(pool), piece_(batch) {
    size_t bytes = pool.size() * static_cast<size_t>(shape_numel(d.sample_shape())) * sizeof(float);
    if (!device.is_cuda() || bytes > kInputCacheBytes) return;
    data::LoaderOptions lo;
    lo.batch_size = batch;
    lo.shuffle = false;
    data::Loader loader(d, pool, lo);
    data::Batch b;
    try {
      while (loader.next(b)) {
        Tensor x(b.x.shape(), DType::f32, device, "pool input cache");
        x.copy_from(b.x);
        cached_.push_back(std::move(x));
      }
    } catch (const OutOfMemoryError&) {
      cached_.clear();
    }
  }

  size_t bytes() const {
    size_t b = 0;
    for (const Tensor& x : cached_)
      b += x.nbytes();
    return b;
  }

  // fn(first, count, outputs) for every batch in pool order, the model in its current mode.
  // Out of memory shrinks the batch for this and later passes (forward_in_pieces).
  void for_each(Model& m, Context& ctx, bool features, const OutputFn& fn) {
    if (cached_.empty()) {
      piece_ = run_inference(m, ctx, d_, pool_, static_cast<int>(piece_), fn, features);
      return;
    }
    int64_t first = 0;
    for (const Tensor& x : cached_) {
      forward_in_pieces(m, ctx, x, first, piece_, features, fn, pool_.data() + first);
      first += x.dim(0);
    }
  }

 private:
  const data::Dataset& d_;
  const std::vector<int64_t>& pool_;
  int64_t piece_;  // the batch the model runs at, halved on out-of-memory
  std::vector<Tensor> cached_;
};

// Sets a model's fused inference path for a scope, and back to what it was: off unless `wanted`;
// when wanted, on by the rule of al/training.h (a GPU and a model with the path) or where the
// caller had turned it on (the CPU's fused path, as tests use it).
class FusedInferenceScope {
 public:
  FusedInferenceScope(Model& m, const Context& ctx, bool wanted)
      : m_(m), was_(m.fused_inference()) {
    m_.set_fused_inference(wanted && (was_ || fused_inference_rule(m_, ctx, true)));
  }
  ~FusedInferenceScope() { m_.set_fused_inference(was_); }
  FusedInferenceScope(const FusedInferenceScope&) = delete;
  FusedInferenceScope& operator=(const FusedInferenceScope&) = delete;

 private:
  Model& m_;
  bool was_;
};

}  // namespace

std::vector<kernels::NoiseSegment> noise_segments(const ParamArena& arena,
                                                  const NoiseStabilityConfig& cfg) {
  std::vector<std::string> known = arena.groups();
  for (const std::string& g : cfg.groups)
    NSAL_CHECK(std::find(known.begin(), known.end(), g) != known.end(),
               "noise-stability: unknown layer group '{}' (the model has: {})", g,
               fmt::format("{}", fmt::join(known, ", ")));
  std::vector<kernels::NoiseSegment> segs;
  for (const ParamInfo& p : arena.param_infos()) {
    if (!cfg.groups.empty() &&
        std::find(cfg.groups.begin(), cfg.groups.end(), p.group) == cfg.groups.end())
      continue;
    if (cfg.preset == "released" && p.role != ParamRole::weight) continue;
    segs.push_back({p.offset, p.numel});
  }
  NSAL_CHECK(!segs.empty(), "noise-stability: no parameter receives noise (groups: {})",
             fmt::format("{}", fmt::join(cfg.groups, ", ")));
  return segs;
}

std::string noise_output(const NoiseStabilityConfig& cfg, data::Task task) {
  const bool regression = task == data::Task::regression;
  NSAL_CHECK(!(regression && cfg.output == "probs"),
             "noise-stability: output = \"probs\" is a softmax over classes, but the dataset "
             "holds regression targets; use auto, logits (the outputs themselves) or features");
  const std::string output = cfg.output != "auto" ? cfg.output : regression ? "logits" : "probs";
  NSAL_CHECK(
      !(cfg.preset == "released" && task == data::Task::segmentation && output != "features"),
      "noise-stability: the released preset compares one vector per sample, but a "
      "segmentation model's outputs are per pixel; use output = \"features\" (--output "
      "features) or the paper preset");
  return output;
}

namespace {

// Restores the weights when a draw ends by an exception (from a pass, or a device error that
// surfaces at a synchronisation): the model is never left perturbed. The normal way out
// restores explicitly, timed. A failure of this restore is not thrown over the error already on
// its way (the model is then lost with the device anyway).
class RestoreOnError {
 public:
  RestoreOnError(kernels::NoisePerturber& p, float* w)
      : p_(p), w_(w), exceptions_(std::uncaught_exceptions()) {}
  ~RestoreOnError() {
    if (std::uncaught_exceptions() == exceptions_ || !p_.is_perturbed()) return;
    try {
      p_.restore(w_);
    } catch (...) {
    }
  }
  RestoreOnError(const RestoreOnError&) = delete;
  RestoreOnError& operator=(const RestoreOnError&) = delete;

 private:
  kernels::NoisePerturber& p_;
  float* w_;
  int exceptions_;
};

// The clean model's outputs for the whole pool, kept on the context's device: (N, C, P).
Tensor clean_outputs(Model& model, Context& ctx, PoolInputs& inputs, bool features, int64_t n) {
  Tensor clean;
  inputs.for_each(model, ctx, features, [&](int64_t first, int64_t count, const Tensor& o) {
    if (clean.empty()) {
      const int64_t c = o.dim(1), p = o.numel() / (o.dim(0) * c);
      clean = Tensor({n, c, p}, DType::f32, ctx.device(), "clean-output cache");
    }
    clean.slice0(first, first + count).reshaped(o.shape()).copy_from(o);
  });
  return clean;
}

// The noise of every draw: the paper's one global scale, the released code's per-tensor ones,
// or a constant magnitude.
kernels::NoiseSpec noise_spec(const NoiseStabilityConfig& cfg, uint64_t seed) {
  kernels::NoiseSpec spec;
  spec.seed = seed;
  spec.dist = kernels::parse_noise_dist(cfg.distribution.c_str());
  spec.lambda = cfg.lambda;
  spec.scaling = cfg.magnitude == "constant" ? kernels::NoiseScaling::constant
                 : cfg.preset == "released"  ? kernels::NoiseScaling::segment_relative
                                             : kernels::NoiseScaling::global_relative;
  return spec;
}

}  // namespace

NoiseStabilityResult noise_stability_scores(Model& model, Context& ctx, const data::Dataset& d,
                                            const std::vector<int64_t>& pool,
                                            const NoiseStabilityConfig& cfg, int batch_size,
                                            uint64_t seed) {
  NSAL_CHECK(model.arena().dtype() == DType::f32,
             "noise-stability: float32 weights expected, got {}",
             dtype_name(model.arena().dtype()));
  NoiseStabilityResult r;
  r.output = noise_output(cfg, d.task);
  const int64_t n = static_cast<int64_t>(pool.size());
  r.scores.assign(static_cast<size_t>(n), 0.0f);
  if (n == 0) return r;
  const bool on_cuda = ctx.device().is_cuda();
  const bool features = r.output == "features";
  const bool softmax = r.output == "probs";
  const bool released = cfg.preset == "released";
  // Everything runs on the context's stream; on a GPU each timed phase ends by waiting for it,
  // so that the clocks measure the work and not only its queueing.
  void* stream = on_cuda ? kernels::gpu_stream(ctx.gpu()) : nullptr;
  auto finished = [&] {
    if (on_cuda) ctx.synchronize();
  };

  // The fused inference path where cfg.fused asks for it (on a GPU for a model that has one, or
  // where the caller turned it on), the layer path otherwise (restored on the way out).
  FusedInferenceScope fused(model, ctx, cfg.fused);
  r.timing.passes = !model.fused_inference()            ? "layers"
                    : ctx.math_mode() == MathMode::bf16 ? "fused bf16"
                                                        : "fused";
  // On a GPU the pool's inputs are prepared once (loaded, normalised, on the device) when they
  // fit in the input-cache budget, so the K perturbed passes only run the model; otherwise each
  // pass streams them through the loader again (PoolInputs).
  batch_size = static_cast<int>(inference_batch(model, ctx, d, pool[0], batch_size));
  PoolInputs inputs(d, pool, batch_size, ctx.device());
  auto t0 = Clock::now();
  TrainingModeScope eval(model, false);
  const Tensor clean = clean_outputs(model, ctx, inputs, features, n);  // (N, C, P)
  const int64_t c = clean.dim(1), p = clean.dim(2);
  finished();
  r.timing.clean_seconds = since(t0);
  NSAL_CHECK(!released || p == 1,
             "noise-stability: the released preset scores classification outputs (N, C); "
             "got {} values per sample",
             c * p);

  Tensor score = Tensor::zeros({n}, DType::f32, ctx.device());
  Tensor vectors;
  if (released) vectors = Tensor::zeros({n, c * cfg.draws}, DType::f32, ctx.device());

  std::vector<kernels::NoiseSegment> segs = noise_segments(model.arena(), cfg);
  float* w = model.arena().params().data<float>();
  kernels::NoisePerturber perturber(segs.data(), static_cast<int>(segs.size()),
                                    model.arena().arena_size(), on_cuda, ctx.device().index,
                                    stream);
  perturber.measure_weights(w);
  const kernels::NoiseSpec spec = noise_spec(cfg, seed);

  for (int k = 0; k < cfg.draws; ++k) {
    auto tp = Clock::now();
    kernels::NoiseDrawStats st = perturber.perturb(w, spec, static_cast<uint64_t>(k));
    {
      RestoreOnError guard(perturber, w);  // never leave the model perturbed
      finished();
      r.timing.perturb_seconds += since(tp);
      r.timing.logged += st.logged;
      r.timing.fallback_tiles += st.fallback_tiles;
      auto tr = Clock::now();
      inputs.for_each(model, ctx, features, [&](int64_t first, int64_t count, const Tensor& o) {
        const float* cl = clean.data<float>() + first * c * p;
        // Non-finite samples are counted once at the end (their score stays NaN), so that the
        // GPU pass does not wait for the device at every batch.
        float* sc = score.data<float>() + first;
        if (released)  // the vectors and the scores in one pass over both outputs
          kernels::deviation_vectors(cl, o.data<float>(), count, c, softmax, k, cfg.draws,
                                     vectors.data<float>() + first * c * cfg.draws, sc, on_cuda,
                                     stream, false);
        else
          kernels::accumulate_sq_deviation(cl, o.data<float>(), count, c, p, nullptr, softmax, sc,
                                           on_cuda, stream, false);
      });
      finished();  // a device error of the passes shows here, with the guard still armed
      r.timing.perturbed_seconds += since(tr);
      tp = Clock::now();
      perturber.restore(w);
      finished();
      r.timing.perturb_seconds += since(tp);
    }
  }
  kernels::finalize_mean(score.data<float>(), n, cfg.draws, on_cuda, stream);
  r.timing.extra_bytes = perturber.extra_bytes();
  r.timing.input_cache_bytes = inputs.bytes();
  std::vector<double> s = score.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    r.scores[static_cast<size_t>(i)] = static_cast<float>(s[i]);
    if (std::isnan(s[i])) ++r.nonfinite;
  }
  if (released) r.vectors = vectors.to(Device::cpu());
  return r;
}

}  // namespace nsal::al
