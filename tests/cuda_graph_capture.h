// A CUDA graph captured from what a callable queues on a stream, for the steady-state tests
// (test_cuda_graph.cpp, test_cuda_models.cpp). Global capture mode: a cudaMalloc, a host wait
// or work on the legacy stream inside the callable is an error, which is what those tests check.
// Only in CUDA builds.
#pragma once

#include <cuda_runtime.h>

#include <functional>

#include "kernels/cuda/check.h"

namespace nsal::testing {

class CapturedGraph {
 public:
  CapturedGraph(cudaStream_t stream, const std::function<void()>& body) : stream_(stream) {
    NSAL_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal));
    try {
      body();
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph_);  // ends the capture; the error is body's
      release();
      throw;
    }
    NSAL_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph_));
    NSAL_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
  }
  ~CapturedGraph() { release(); }
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  // Launches the graph and waits for it.
  void replay() {
    NSAL_CUDA_CHECK(cudaGraphLaunch(exec_, stream_));
    NSAL_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

 private:
  void release() noexcept {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
    exec_ = nullptr;
    graph_ = nullptr;
  }

  cudaStream_t stream_;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace nsal::testing
