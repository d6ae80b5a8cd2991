// `nsal info`: backends compiled, CUDA and cuDNN versions, which GPU answers, BLAS, threads.
#include <fmt/core.h>

#include "apps/nsal/command.h"
#include "kernels/backend_info.h"

namespace nsal::app {

static void run_info() {
  kernels::BackendInfo b = kernels::backend_info();
  fmt::print("nsal {}\n", NSAL_VERSION);
  fmt::print("backends compiled: cpu{}\n", b.cuda_compiled ? ", cuda" : "");
  fmt::print("cpu: {}\n", b.cpu_name);
  fmt::print("blas: {} (kernels {}, threads {})\n", b.blas, b.blas_core, b.blas_threads);
  fmt::print("openmp threads: {}\n", b.omp_threads);
  if (b.cuda_compiled) {
    fmt::print("cuda runtime: {}\n", b.cuda_runtime);
    fmt::print("cuda driver: {}\n", b.cuda_driver.empty() ? "none" : b.cuda_driver);
    fmt::print("cudnn: {}\n", b.cudnn);
    fmt::print("cublas: {}\n", b.cublas.empty() ? "unknown" : b.cublas);
  }
  if (b.gpus.empty()) {
    fmt::print("gpu: none answers ({}); --device auto uses the cpu\n", b.gpu_unavailable_reason);
  } else {
    for (const auto& g : b.gpus)
      fmt::print("gpu {}: {} (sm_{}{}, {} multiprocessors, {:.1f} GiB)\n", g.index, g.name,
                 g.cc_major, g.cc_minor, g.sm_count, g.memory_bytes / 1073741824.0);
    fmt::print("--device auto uses cuda:0\n");
  }
}

static CommandRegistrar reg("info", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show the compiled backends, GPU, BLAS and threads");
  cmd->callback(run_info);
});

}  // namespace nsal::app
