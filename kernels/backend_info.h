// What this build and machine offer: for `nsal info` and the headers of benchmark reports.
#pragma once

#include <string>
#include <vector>

namespace nsal::kernels {

struct GpuInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;  // multiprocessors: cuBLAS promises the same bits only for the same count
  size_t memory_bytes = 0;
};

struct BackendInfo {
  bool cuda_compiled = false;
  std::string cuda_runtime;  // "13.0" or "" when not compiled
  std::string cuda_driver;   // "" when no driver answers
  std::string cudnn;         // "9.x.y" or ""
  std::string cublas;        // "13.x.y" or ""
  std::string gpu_unavailable_reason;
  std::vector<GpuInfo> gpus;  // devices that answer
  std::string blas;           // OpenBLAS configuration string
  std::string blas_core;      // the kernels OpenBLAS chose for this CPU ("SkylakeX")
  std::string cpu_name;
  int blas_threads = 1;
  int omp_threads = 1;
};

BackendInfo backend_info();
// Threads of OpenBLAS (what backend_info() reports). nsal's own GEMMs run one thread each
// whatever it says (kernels/cpu/blas_gemm.h), its kernels sharing out the work themselves.
void set_blas_threads(int n);
// Fills the CUDA fields (in kernels/cuda when compiled; a no-op otherwise).
void fill_cuda_info(BackendInfo& info);

}  // namespace nsal::kernels
