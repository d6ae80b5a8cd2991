// The skip every GPU test starts with: without the CUDA backend or a device that answers, the
// test is skipped with the reason (the summary counts it; scripts/gpu_check.sh fails a GPU run
// whose tests skip).
#pragma once

#include <gtest/gtest.h>

#include "kernels/memory.h"

#define NSAL_REQUIRE_GPU()                                                         \
  do {                                                                             \
    if (!::nsal::kernels::cuda_compiled())                                         \
      GTEST_SKIP() << "GPU test skipped: nsal was built without the CUDA backend"; \
    if (::nsal::kernels::cuda_device_count() == 0)                                 \
      GTEST_SKIP() << "GPU test skipped: no CUDA device answers ("                 \
                   << ::nsal::kernels::cuda_unavailable_reason() << ")";           \
  } while (0)
