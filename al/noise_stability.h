// Noise-stability scoring (DESIGN section 3): the clean outputs of the pool are computed once
// and cached; then for each of K draws the weights are perturbed in place (one pass over the
// arena), the whole pool runs through the perturbed model, the fused deviation kernel
// accumulates each sample's squared deviation, and the weights are restored bit for bit.
//
//   paper:    every trainable parameter (or the chosen groups), one global
//             xi = lambda ||theta|| / ||dtheta||; R(x) = mean_k ||f(x) - f_k(x)||^2; top-N.
//   released: module weights only (conv, linear, BN gamma), per-tensor scale with
//             ||noise_l|| = lambda ||W_l||; deviation vectors (f_k - f) / ||f|| concatenated over
//             k, selected by greedy k-center from the origin.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "al/run_config.h"
#include "data/dataset.h"
#include "kernels/noise_layout.h"
#include "nn/context.h"
#include "nn/model.h"

namespace nsal::al {

struct NoiseStabilityTiming {
  double clean_seconds = 0;      // clean pass over the pool
  double perturb_seconds = 0;    // perturb + restore, all draws
  double perturbed_seconds = 0;  // perturbed passes and deviation accumulation
  size_t extra_bytes = 0;        // perturber's memory besides the arena
  size_t input_cache_bytes = 0;  // the pool's inputs kept for the passes (0: streamed each pass)
  int64_t logged = 0;            // exceptions restored from the log, all draws
  int64_t fallback_tiles = 0;    // tiles restored from a saved copy, all draws
  // How the passes ran: "layers", "fused" (BatchNorm folded) or "fused bf16" (the bf16
  // channels-last path).
  std::string passes = "layers";
};

struct NoiseStabilityResult {
  std::string output;         // what was compared: "probs", "logits" or "features" (auto resolved)
  std::vector<float> scores;  // (N,) R(x) of each pool sample (NaN: non-finite outputs)
  Tensor vectors;             // released only: (N, C * K) deviation vectors, host float32
  int64_t nonfinite = 0;      // samples whose outputs were NaN or infinite in some draw
  NoiseStabilityTiming timing;
};

// The arena segments that receive noise for a preset and layer groups (empty: all groups);
// throws naming an unknown group.
std::vector<kernels::NoiseSegment> noise_segments(const ParamArena& arena,
                                                  const NoiseStabilityConfig& cfg);

// What cfg.output compares on a dataset of `task`: "auto" resolves to "probs" (class
// probabilities, per pixel for segmentation), or "logits" (the outputs themselves) for
// regression; "probs" on regression is an Error (a softmax over the values would make every
// score 0), and so is the released preset on segmentation outputs other than features (its
// deviation vectors are one per sample).
std::string noise_output(const NoiseStabilityConfig& cfg, data::Task task);

// Scores `pool` (dataset indices) with the model in eval mode. The model's weights are the
// same bits afterwards. seed picks the noise stream.
NoiseStabilityResult noise_stability_scores(Model& model, Context& ctx, const data::Dataset& d,
                                            const std::vector<int64_t>& pool,
                                            const NoiseStabilityConfig& cfg, int batch_size,
                                            uint64_t seed);

}  // namespace nsal::al
