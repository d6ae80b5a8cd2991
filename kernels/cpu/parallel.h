// OpenMP grain for the CPU kernels: below this many elements a loop runs on one thread, since
// starting a parallel region costs more than the work (ReLU of a (128, 10) tensor, say).
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

constexpr int64_t kParallelMinWork = 1 << 15;

}  // namespace nsal::kernels::cpu
