// The process group of a data-parallel job: the ranks started by mpirun, joined through MPI,
// and the collectives between them. Every MPI call runs on one communication thread owned by
// this file, so collectives queued by the JS thread run while it keeps computing (the backward
// pass overlaps the gradients' all-reduce); wait() blocks until one is done.
//
// CPU tensors are reduced with MPI; CUDA tensors with NCCL (nccl.h), queued on the CUDA stream.
// Failures never hang: every collective has a deadline (the group's timeout, counted from when
// it starts on the communication thread), a missed deadline fails it with the rank, the
// collective and the likely causes, and marks the group broken so later collectives fail at once.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace cr::dist {

struct GroupInfo {
  int rank = 0;
  int size = 1;
  int localRank = 0;  // among the ranks of this machine
  int localSize = 1;
};

// What the launcher says before MPI is initialised (Open MPI's OMPI_COMM_WORLD_* variables);
// launched is false outside mpirun.
struct LauncherInfo {
  bool launched = false;
  GroupInfo group;
};
LauncherInfo launcherInfo();

// Starts the communication thread and initialises MPI on it; blocks until every rank has joined
// or timeoutSeconds passed (then throws naming this rank). Collectives use the same timeout.
GroupInfo init(double timeoutSeconds);
bool initialized();
GroupInfo groupInfo();  // throws when not initialised
// MPI_Finalize on the communication thread (waits at most the timeout), then stops the thread.
void finalize();

enum class ReduceOp { Sum, Mean, Max, Min };

// One queued collective. Results (values, bytes) are valid once done.
struct Work {
  enum class Kind { AllReduce, AllReduceValues, Broadcast, BroadcastBytes, Barrier, Finalize } kind;
  std::vector<Tensor> inputs;   // AllReduce: reduced, inputs[i] -> outputs[i]; Broadcast: in place
  std::vector<Tensor> outputs;
  std::vector<double> values;   // AllReduceValues: in and out
  std::vector<uint8_t> bytes;   // BroadcastBytes: in (on root) and out
  ReduceOp op = ReduceOp::Sum;
  int root = 0;
  std::string what;             // "allReduce of 2 tensors (1024 float32 values)"

  std::mutex mutex;
  std::condition_variable changed;
  bool done = false;
  std::string error;            // empty on success
  double seconds = 0;           // time the collective took on the communication thread
  // CUDA tensors (NCCL): makes the backend's stream wait for the collective; run once by wait(),
  // which releases the tensors only then (the caching allocator reuses memory in stream order).
  std::function<void()> joinDeviceStream;
};
using WorkPtr = std::shared_ptr<Work>;

// outputs may be the inputs themselves (in place). CPU: float32; CUDA: float32/float16/bfloat16.
WorkPtr allReduce(std::vector<Tensor> inputs, std::vector<Tensor> outputs, ReduceOp op);
WorkPtr allReduceValues(std::vector<double> values, ReduceOp op);
// Tensors (any dtype) take root's values, in place.
WorkPtr broadcast(std::vector<Tensor> tensors, int root);
WorkPtr broadcastBytes(std::vector<uint8_t> bytes, int root);
WorkPtr barrier();
// Blocks until the work is done; throws cr::Error with its error.
void wait(const WorkPtr& work);
bool isDone(const WorkPtr& work);

}  // namespace cr::dist
