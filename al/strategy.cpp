#include "al/strategy.h"

#include <chrono>
#include <cmath>

#include "al/training.h"
#include "kernels/gpu_exec.h"
#include "kernels/select.h"

namespace nsal::al {

Acquisition Strategy::acquire(const AcquisitionInput& in) {
  NSAL_CHECK(in.budget >= 0, "{}: negative budget {}", name(), in.budget);
  NSAL_CHECK(in.budget <= static_cast<int64_t>(in.candidates.size()),
             "{}: asked for {} samples but only {} unlabelled candidates remain", name(), in.budget,
             in.candidates.size());
  auto t0 = std::chrono::steady_clock::now();
  Acquisition a = in.budget == 0 ? Acquisition{} : select(in);
  a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  NSAL_CHECK(static_cast<int64_t>(a.selected.size()) == in.budget,
             "{}: selected {} samples instead of {} (too many non-finite scores?)", name(),
             a.selected.size(), in.budget);
  NSAL_CHECK(a.scores.empty() || a.scores.size() == in.candidates.size(),
             "{}: {} scores for {} candidates", name(), a.scores.size(), in.candidates.size());
  return a;
}

std::vector<int64_t> kcenter_rows(Context& ctx, const Tensor& rows,
                                  const std::vector<int64_t>& initial, int64_t budget) {
  NSAL_CHECK(rows.ndim() == 2 && rows.dtype() == DType::f32 &&
                 (rows.device().is_cpu() || rows.device() == ctx.device()),
             "k-center: expected float32 rows (N, D) on the CPU or on {}, got {}",
             ctx.device().str(), rows.describe());
  const int64_t n = rows.dim(0), d = rows.dim(1);
  const int64_t n_init = static_cast<int64_t>(initial.size());
  std::vector<int64_t> chosen(static_cast<size_t>(budget));
  if (!ctx.device().is_cuda()) {
    kernels::kcenter_greedy(rows.data<float>(), n, d, initial.data(), n_init, budget,
                            chosen.data());
    return chosen;
  }
  Tensor uploaded;  // only for host rows
  if (rows.device().is_cpu()) uploaded = rows.to(ctx.device());
  const Tensor& on_device = rows.device().is_cpu() ? uploaded : rows;
  const size_t ws = kernels::kcenter_workspace_bytes(n, n_init, budget);
  void* workspace = ctx.workspace(ws);
  kernels::kcenter_greedy(on_device.data<float>(), n, d, initial.data(), n_init, budget,
                          chosen.data(), true, workspace, ws, kernels::gpu_stream(ctx.gpu()));
  return chosen;
}

std::vector<int64_t> top_candidates(const std::vector<float>& scores,
                                    const std::vector<int64_t>& candidates, int64_t budget) {
  std::vector<int64_t> pos(static_cast<size_t>(budget));
  int64_t got =
      kernels::top_n(scores.data(), static_cast<int64_t>(scores.size()), budget, pos.data());
  pos.resize(static_cast<size_t>(got));
  std::vector<int64_t> out;
  out.reserve(pos.size());
  for (int64_t p : pos)
    out.push_back(candidates[static_cast<size_t>(p)]);
  return out;
}

void softmax_channels(const float* logits, int64_t n, int64_t c, int64_t p, float* probs) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t q = 0; q < p; ++q) {
      const float* x = logits + i * c * p + q;
      float* y = probs + i * c * p + q;
      double mx = x[0];
      for (int64_t j = 1; j < c; ++j)
        mx = std::max(mx, static_cast<double>(x[j * p]));
      double sum = 0;
      for (int64_t j = 0; j < c; ++j)
        sum += std::exp(x[j * p] - mx);
      for (int64_t j = 0; j < c; ++j)
        y[j * p] = static_cast<float>(std::exp(x[j * p] - mx) / sum);
    }
}

void softmax_rows(const float* logits, int64_t n, int64_t c, float* probs) {
  softmax_channels(logits, n, c, 1, probs);
}

std::vector<float> candidate_probabilities(const AcquisitionInput& in, int64_t& classes) {
  NSAL_CHECK(in.pool_data.task != data::Task::regression,
             "class probabilities asked of a regression dataset ({})", in.pool_data.where("y"));
  std::vector<float> probs;
  classes = 0;
  run_inference(in.model, in.ctx, in.pool_data, in.candidates, in.batch_size,
                [&](int64_t first, int64_t count, const Tensor& o) {
                  Tensor host = o.device().is_cpu() ? Tensor() : o.to(Device::cpu());
                  const Tensor& out = o.device().is_cpu() ? o : host;
                  NSAL_CHECK(out.ndim() == 2 && (classes == 0 || out.dim(1) == classes),
                             "class probabilities need outputs (N, C), got {}",
                             shape_str(out.shape()));
                  if (classes == 0) {
                    classes = out.dim(1);
                    probs.resize(in.candidates.size() * static_cast<size_t>(classes));
                  }
                  softmax_rows(out.data<float>(), count, classes, probs.data() + first * classes);
                });
  return probs;
}

}  // namespace nsal::al
