#include "kernels/backend_info.h"

#include <cblas.h>
#include <omp.h>

#include <fstream>

#include "kernels/memory.h"

namespace nsal::kernels {

static std::string read_cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

BackendInfo backend_info() {
  BackendInfo info;
  info.blas = openblas_get_config();
  info.blas_core = openblas_get_corename();
  info.blas_threads = openblas_get_num_threads();
  info.omp_threads = omp_get_max_threads();
  info.cpu_name = read_cpu_name();
  info.cuda_compiled = cuda_compiled();
  info.gpu_unavailable_reason = cuda_unavailable_reason();
  fill_cuda_info(info);
  return info;
}

void set_blas_threads(int n) {
  openblas_set_num_threads(n);
}

#ifndef NSAL_WITH_CUDA
void fill_cuda_info(BackendInfo&) {}
#endif

}  // namespace nsal::kernels
