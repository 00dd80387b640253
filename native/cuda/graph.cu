// CUDA graph capture and replay on the backend's stream (see graph.h).
#include "graph.h"

#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#include <vector>

#include "../core/error.h"
#include "allocator.h"
#include "handles.h"
#include "runtime.h"

namespace cr::cuda {
namespace {

struct Graph {
  PoolId pool = 0;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
};

std::mutex gMutex;
std::map<int64_t, Graph> gGraphs;
int64_t gLastId = 0;
int64_t gCapturing = 0;  // the id of the graph being captured, 0 when none
std::vector<int64_t> gDeferred;  // graphs destroyed during another graph's capture

Graph& find(int64_t id) {
  auto it = gGraphs.find(id);
  CR_CHECK_RANGE(it != gGraphs.end(), "CUDA graph ", id, " does not exist (it was destroyed or never made)");
  return it->second;
}

void release(Graph& g) {
  if (g.exec) cudaGraphExecDestroy(g.exec);
  if (g.graph) cudaGraphDestroy(g.graph);
  g.exec = nullptr;
  g.graph = nullptr;
}

// Ends the stream's capture, whatever state it is in; the captured graph (null when invalidated).
cudaGraph_t finishCapture(cudaError_t* status) {
  cudaGraph_t graph = nullptr;
  *status = cudaStreamEndCapture(stream(), &graph);
  if (*status != cudaSuccess) cudaGetLastError();
  return graph;
}

// Destroys a graph that is not being captured. Called with the mutex held. Stream order makes
// this safe while a replay is still running: CUDA frees an executable graph in flight when it
// completes, and later work that reuses the pool's memory is queued after it on the same stream.
void destroyNow(int64_t id) {
  auto it = gGraphs.find(id);
  if (it == gGraphs.end()) return;
  release(it->second);
  retirePool(it->second.pool);
  gGraphs.erase(it);
}

// Called with the mutex held, once no capture is under way.
void destroyDeferred() {
  for (int64_t id : gDeferred) destroyNow(id);
  gDeferred.clear();
}

}  // namespace

bool capturing() {
  {
    std::lock_guard<std::mutex> lock(gMutex);
    if (gCapturing == 0) return false;
  }
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  CR_CUDA_CHECK(cudaStreamIsCapturing(stream(), &status));
  return status != cudaStreamCaptureStatusNone;
}

void refuseDuringCapture(const char* what, const char* why) {
  CR_CHECK(!capturing(), what, " cannot run while a CUDA graph is being captured: ", why);
}

int64_t beginCapture() {
  expectGpuThread("CUDA graph capture");
  cudaStream_t s = stream();
  // The handles (and cuBLAS's workspace) exist before the capture: creating one inside it would
  // invalidate the capture, and a process's first cuDNN or cuBLAS call may come in captured code.
  prepareHandles();
  std::lock_guard<std::mutex> lock(gMutex);
  CR_CHECK(gCapturing == 0, "CUDA graph capture: graph ", gCapturing, " is being captured; captures cannot nest");
  // The shared workspace (runtime.h) is let go first, so that the captured work takes one from the
  // graph's pool: a block allocated before the capture could go back to the general cache later
  // while the graph still uses it.
  releaseWorkspace();
  PoolId pool = createPool();
  setActivePool(pool);
  // Thread-local: the capturing thread may not make unsafe calls (a synchronisation would break
  // the capture), while worker threads finishing earlier reads (PendingHostCopy) still may.
  cudaError_t status = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
  if (status != cudaSuccess) {
    setActivePool(0);
    retirePool(pool);
    checkCuda(status, "cudaStreamBeginCapture", __FILE__, __LINE__);
  }
  int64_t id = ++gLastId;
  gGraphs[id].pool = pool;
  gCapturing = id;
  return id;
}

void endCapture(int64_t id) {
  std::lock_guard<std::mutex> lock(gMutex);
  CR_CHECK(gCapturing == id, "CUDA graph capture: graph ", id, " is not being captured");
  Graph& g = find(id);
  cudaError_t status = cudaSuccess;
  g.graph = finishCapture(&status);
  gCapturing = 0;
  setActivePool(0);
  destroyDeferred();
  if (status == cudaSuccess && g.graph) status = cudaGraphInstantiate(&g.exec, g.graph, 0);
  if (status != cudaSuccess || !g.graph) {
    release(g);
    retirePool(g.pool);
    gGraphs.erase(id);
    checkCuda(status == cudaSuccess ? cudaErrorStreamCaptureInvalidated : status,
              "CUDA graph capture (an operation in the captured code cannot be captured)", __FILE__, __LINE__);
  }
}

void abortCapture(int64_t id) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (gCapturing != id) return;
  cudaError_t status = cudaSuccess;
  cudaGraph_t graph = finishCapture(&status);
  if (graph) cudaGraphDestroy(graph);
  gCapturing = 0;
  setActivePool(0);
  destroyNow(id);
  destroyDeferred();
}

void replayGraph(int64_t id) {
  cudaStream_t s = stream();
  std::lock_guard<std::mutex> lock(gMutex);
  CR_CHECK(gCapturing == 0, "CUDA graph replay: a capture is under way");
  Graph& g = find(id);
  CR_CHECK(g.exec != nullptr, "CUDA graph ", id, " has not been captured yet");
  CR_CUDA_CHECK(cudaGraphLaunch(g.exec, s));
}

void destroyGraph(int64_t id) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (gCapturing == id) return;  // abortCapture / endCapture decide its fate
  if (gCapturing != 0) gDeferred.push_back(id);
  else destroyNow(id);
}

}  // namespace cr::cuda
