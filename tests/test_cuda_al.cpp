// Acquisition on a GPU against the same acquisition on the CPU (this binary needs the full build:
// al/ and data/): noise-stability scores and deviation vectors of both presets, MC-dropout
// outputs with their per-sample masks, and the k-center of CoreSet and the released preset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "al/noise_stability.h"
#include "al/strategy.h"
#include "al/training.h"
#include "data/loader.h"
#include "data/synth.h"
#include "kernels/memory.h"
#include "nn/models/registry.h"
#include "tests/gpu_skip.h"
#include "tests/layer_test_util.h"
#include "tests/tensor_bytes.h"

namespace nsal::al {
namespace {

using nsal::testing::expect_error_mentions;

data::Dataset images(int64_t n) {
  data::SynthOptions o;
  o.train = n;
  o.test = 4;
  o.classes = 4;
  o.size = 28;
  o.noise = 0.2;
  o.seed = 5;
  return data::synth_images(o, "train");
}

// n synthetic CIFAR-shaped images (3 x 32 x 32, 10 classes) as `split`, for resnet18-cifar.
data::Dataset cifar_like(int64_t n, const std::string& split, uint64_t seed) {
  data::SynthOptions o;
  o.train = split == "train" ? n : 4;
  o.test = split == "test" ? n : 4;
  o.classes = 10;
  o.size = 32;
  o.channels = 3;
  o.seed = seed;
  return data::synth_images(o, split);
}

// A pool of 48 images and mnist-cnn with the same initial weights on the CPU and on the GPU,
// each with its context (skipped, with the reason, where no GPU answers).
class CudaAcquisition : public ::testing::Test {
 protected:
  void SetUp() override {
    NSAL_REQUIRE_GPU();
    gpu_ctx = std::make_unique<Context>(Device::cuda(0));
    cpu_model->build(Device::cpu(), 3);
    gpu_model->build(Device::cuda(0), 3);
  }
  data::Dataset d = images(48);
  const std::vector<int64_t> pool = data::all_indices(48);
  std::unique_ptr<Model> cpu_model = make_model({"mnist-cnn", 1, 4});
  std::unique_ptr<Model> gpu_model = make_model({"mnist-cnn", 1, 4});
  Context cpu;
  std::unique_ptr<Context> gpu_ctx;
};

// The noise is the same bits on both devices (NoiseCuda tests); the scores differ only by the
// rounding of the forward passes (cuDNN against im2col and Winograd, sums in other orders),
// about 1e-6 of the outputs. At lambda = 0.05 the deviations are about 1e-2 of the outputs, so
// each score and each deviation-vector element agrees to 1e-3 relative.
TEST_F(CudaAcquisition, NoiseStabilityScoresMatchTheCpu) {
  const std::vector<uint8_t> weights = testing::bytes_of(gpu_model->arena().params());
  for (const char* preset : {"paper", "released"}) {
    SCOPED_TRACE(preset);
    NoiseStabilityConfig cfg;
    cfg.preset = preset;
    cfg.draws = 4;
    cfg.lambda = 0.05;
    const NoiseStabilityResult a = noise_stability_scores(*cpu_model, cpu, d, pool, cfg, 16, 7);
    const NoiseStabilityResult b =
        noise_stability_scores(*gpu_model, *gpu_ctx, d, pool, cfg, 16, 7);
    ASSERT_EQ(b.scores.size(), a.scores.size());
    EXPECT_EQ(b.nonfinite, 0);
    for (size_t i = 0; i < a.scores.size(); ++i)
      EXPECT_NEAR(b.scores[i], a.scores[i], 1e-3 * a.scores[i]) << "sample " << i;
    if (std::string(preset) == "released") {
      const std::vector<double> va = a.vectors.to_vector(), vb = b.vectors.to_vector();
      ASSERT_EQ(va.size(), vb.size());
      for (size_t i = 0; i < va.size(); ++i)
        ASSERT_NEAR(vb[i], va[i], 1e-6 + 1e-3 * std::abs(va[i])) << "element " << i;
    }
    EXPECT_EQ(testing::bytes_of(gpu_model->arena().params()), weights) << "restored bit for bit";
  }
}

// resnet18-cifar's passes take the fused inference path on a GPU (cfg.fused, the default): the
// same scores as the layer path up to the fold's rounding (~1e-7 of the outputs, 1e-5 of the
// deviations at lambda = 0.05: 1e-3 relative per score allowed), and the model leaves with its
// option as it came. Under bf16 math the passes run in bfloat16 channels-last: each output is
// rounded to ~4e-3, about a tenth of the deviations at lambda = 0.05, so bf16 is compared with
// fp32 at lambda = 0.2 and the scores are only expected to keep their order roughly
// (Spearman's rank correlation recorded; at least 0.5 required, a broken path is uncorrelated)
// and the weights to come back bit for bit.
TEST_F(CudaAcquisition, NoiseStabilityTakesTheFusedPathOfResNets) {
  const data::Dataset cifar = cifar_like(64, "train", 9);
  const std::vector<int64_t> p = data::all_indices(64);
  std::unique_ptr<Model> resnet = make_model({"resnet18-cifar", 3, 10});
  resnet->build(Device::cuda(0), 4);
  const std::vector<uint8_t> weights = testing::bytes_of(resnet->arena().params());
  NoiseStabilityConfig cfg;
  cfg.draws = 3;
  cfg.lambda = 0.05;
  const NoiseStabilityResult fused =
      noise_stability_scores(*resnet, *gpu_ctx, cifar, p, cfg, 32, 7);
  EXPECT_FALSE(resnet->fused_inference()) << "the option is put back";
  EXPECT_EQ(fused.timing.passes, "fused");
  cfg.fused = false;
  resnet->set_fused_inference(true);  // as a run sets it for its evaluations
  const NoiseStabilityResult layers =
      noise_stability_scores(*resnet, *gpu_ctx, cifar, p, cfg, 32, 7);
  EXPECT_EQ(layers.timing.passes, "layers") << "cfg.fused = false wins over the model's option";
  EXPECT_TRUE(resnet->fused_inference()) << "and the option is put back";
  resnet->set_fused_inference(false);
  ASSERT_EQ(fused.scores.size(), layers.scores.size());
  for (size_t i = 0; i < fused.scores.size(); ++i)
    EXPECT_NEAR(fused.scores[i], layers.scores[i], 1e-3 * layers.scores[i]) << "sample " << i;

  // bf16 against fp32 at a larger lambda, where the deviations stand further above bf16's
  // rounding of the outputs (the order of the scores is what is compared).
  cfg.lambda = 0.2;
  const NoiseStabilityResult fp32_big =
      noise_stability_scores(*resnet, *gpu_ctx, cifar, p, cfg, 32, 7);
  cfg.fused = true;
  gpu_ctx->set_math_mode(MathMode::bf16);
  const NoiseStabilityResult bf16 = noise_stability_scores(*resnet, *gpu_ctx, cifar, p, cfg, 32, 7);
  gpu_ctx->set_math_mode(MathMode::strict_fp32);
  EXPECT_EQ(bf16.nonfinite, 0);
  EXPECT_EQ(bf16.timing.passes, "fused bf16");
  auto ranks = [](const std::vector<float>& v) {
    std::vector<size_t> idx(v.size());
    for (size_t i = 0; i < idx.size(); ++i)
      idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t k = 0; k < idx.size(); ++k)
      r[idx[k]] = static_cast<double>(k);
    return r;
  };
  const std::vector<double> ra = ranks(fp32_big.scores), rb = ranks(bf16.scores);
  double d2 = 0;
  for (size_t i = 0; i < ra.size(); ++i)
    d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  const double n = static_cast<double>(ra.size());
  const double spearman = 1.0 - 6.0 * d2 / (n * (n * n - 1.0));
  RecordProperty("bf16_vs_fp32_score_spearman", std::to_string(spearman));
  EXPECT_GE(spearman, 0.5);
  EXPECT_EQ(testing::bytes_of(resnet->arena().params()), weights) << "restored bit for bit";
}

// Evaluation on a GPU takes the fused path by the rule that runs and commands apply
// (al::fused_inference_rule): the same loss and accuracy as the layer path up to the fold's
// rounding (~1e-7 of the outputs; 1e-5 relative allowed on the mean loss, and one sample's
// prediction may flip at a near tie), but not the same bits, so the fused path did run.
TEST_F(CudaAcquisition, EvaluationTakesTheFusedPathByTheRule) {
  const data::Dataset test = cifar_like(96, "test", 11);
  std::unique_ptr<Model> resnet = make_model({"resnet18-cifar", 3, 10});
  resnet->build(Device::cuda(0), 6);
  ASSERT_TRUE(fused_inference_rule(*resnet, *gpu_ctx, true));
  ASSERT_TRUE(set_fused_inference_by_rule(*resnet, *gpu_ctx, true));
  const EvalResult fused = evaluate(*resnet, *gpu_ctx, test, 32);
  ASSERT_FALSE(set_fused_inference_by_rule(*resnet, *gpu_ctx, false));
  const EvalResult layers = evaluate(*resnet, *gpu_ctx, test, 32);
  EXPECT_EQ(fused.samples, 96);
  EXPECT_NEAR(fused.loss, layers.loss, 1e-5 * std::abs(layers.loss));
  EXPECT_NE(fused.loss, layers.loss) << "bit-equal losses: the fused path did not run";
  EXPECT_NEAR(fused.value, layers.value, 1.0 / 96 + 1e-12);
  EXPECT_FALSE(fused_inference_rule(*gpu_model, *gpu_ctx, true)) << "mnist-cnn has no fused path";
}

// A batch whose activations exceed cuDNN's 32-bit descriptors shrinks like one that runs out of
// memory: with the limit lowered to 16 samples' worth of mnist-cnn's largest tensor (the first
// convolution's output, 32 x 24 x 24 per sample), batches of 48 and 24 are too large, and
// evaluation asked for 48 ends in batches of 12 with the same outputs as batches of 12 from the
// start (same algorithms, same bits).
TEST_F(CudaAcquisition, ABatchTooLargeForCudnnShrinks) {
  struct Limit {
    Limit() { kernels::set_descriptor_element_limit(16 * 32 * 24 * 24); }
    ~Limit() { kernels::set_descriptor_element_limit(0); }
  };
  auto outputs = [&](int batch, int64_t& ended) {
    std::vector<double> out;
    ended =
        run_inference(*gpu_model, *gpu_ctx, d, pool, batch, [&](int64_t, int64_t, const Tensor& o) {
          const std::vector<double> h = o.to_vector();
          out.insert(out.end(), h.begin(), h.end());
        });
    return out;
  };
  int64_t ended_small = 0, ended_large = 0;
  const std::vector<double> small = outputs(12, ended_small);
  std::vector<double> large;
  {
    Limit limit;
    large = outputs(48, ended_large);
  }
  EXPECT_EQ(ended_small, 12);
  EXPECT_EQ(ended_large, 12);  // 48 -> 24 -> 12
  EXPECT_EQ(large, small);
}

// Each sample's dropout masks follow its pool position and the pass on both devices, so the GPU
// in batches of 7 gives the CPU's outputs in batches of 48, up to the forwards' rounding.
TEST_F(CudaAcquisition, McDropoutOutputsMatchTheCpuWhateverTheBatch) {
  auto outputs = [&](Model& model, Context& ctx, int batch) {
    std::vector<double> out;
    model.set_mc_dropout(true);
    model.set_mc_pass(2);
    run_inference(model, ctx, d, pool, batch, [&](int64_t, int64_t, const Tensor& o) {
      const std::vector<double> h = o.to_vector();
      out.insert(out.end(), h.begin(), h.end());
    });
    model.set_mc_dropout(false);
    return out;
  };
  const std::vector<double> a = outputs(*cpu_model, cpu, 48), b = outputs(*gpu_model, *gpu_ctx, 7);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(b[i], a[i], 1e-4 + 1e-4 * std::abs(a[i])) << "output " << i;
}

// The k-center of CoreSet and the released preset (al::kcenter_rows): on a GPU context, from
// host rows (uploaded) or rows already on the device (CoreSet's features), the GPU routine gives
// the CPU's selections; the CoreSet strategy selects on the GPU as on the CPU.
TEST_F(CudaAcquisition, KCenterRowsSelectsAsTheCpu) {
  const int64_t n = 5000, dim = 33;
  Tensor x({n, dim});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dim; ++j)
      x.data<float>()[i * dim + j] = static_cast<float>((i * 37 + j * 11) % 23) * 0.1f + (i % 5);
  const Tensor on_gpu = x.to(Device::cuda(0));
  for (std::vector<int64_t> init : {std::vector<int64_t>{}, std::vector<int64_t>{0, 9, 999}}) {
    const std::vector<int64_t> want = kcenter_rows(cpu, x, init, 100);
    EXPECT_EQ(kcenter_rows(*gpu_ctx, x, init, 100), want);
    EXPECT_EQ(kcenter_rows(*gpu_ctx, on_gpu, init, 100), want);
  }
  // Device rows with a CPU context.
  expect_error_mentions([&] { kcenter_rows(cpu, on_gpu, {}, 2); },
                        {"on the CPU or on cpu", "on cuda:0"});

  // CoreSet end to end: mnist-cnn's features on each device, the same weights; the features
  // differ only in rounding, far below the gaps k-center decides on in this pool.
  std::unique_ptr<Strategy> coreset = make_strategy([] {
    StrategyConfig c;
    c.name = "coreset";
    return c;
  }());
  const std::vector<int64_t> labelled = {0, 1, 2}, candidates = data::all_indices(48);
  std::vector<int64_t> cand(candidates.begin() + 3, candidates.end());
  AcquisitionInput on_cpu{*cpu_model, cpu, d, labelled, cand, 5, 16, 1};
  AcquisitionInput on_dev{*gpu_model, *gpu_ctx, d, labelled, cand, 5, 16, 1};
  EXPECT_EQ(coreset->acquire(on_dev).selected, coreset->acquire(on_cpu).selected);
}

}  // namespace
}  // namespace nsal::al
