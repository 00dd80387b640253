// The cuDNN and cuBLAS handles of the backend: created on first use (loading the library, or
// throwing the exact reason it cannot be loaded), bound to the backend's one stream; cuBLAS gets
// its workspace from the project's allocator.
// Threads: the handles, the workspaces (runtime.h) and the capture state (graph.h) are
// process-wide and not synchronised; that is right because every GPU op comes from the JS main
// thread (worker threads only finish host copies: control.h). The first thread that asks for a
// handle, the workspace or a capture owns them: a call from another thread throws instead of
// racing (expectGpuThread).
#pragma once
#include "cublas_api.h"
#include "cudnn_api.h"

namespace cr::cuda {

// Throws cr::Error naming `what` unless called on the thread that made the first such call.
void expectGpuThread(const char* what);

dnn::cudnnHandle_t cudnnHandle();
blas::cublasHandle_t cublasHandle();

// Creates the handles (and cuBLAS's workspace) of the libraries that are loaded, if not yet made:
// called before a CUDA graph capture starts, since creating a handle (or letting cuBLAS allocate
// its own workspace) inside a capture would invalidate it.
void prepareHandles();

}  // namespace cr::cuda
