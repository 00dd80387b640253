// The process group: the communication thread, its queue of collectives and their deadlines
// (design in group.h).
#include "group.h"

#include <time.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>

#include "../core/error.h"
#include "heartbeat.h"
#include "mpi_library.h"
#include "nccl.h"

namespace cr::dist {
namespace {

using Clock = std::chrono::steady_clock;

// Open MPI's MPI_IN_PLACE and MPI_STATUS_IGNORE.
void* const kInPlace = reinterpret_cast<void*>(1);
mpi::MPI_Status* const kStatusIgnore = nullptr;
// Elements per MPI call (MPI counts are int).
constexpr int64_t kChunk = int64_t{1} << 30;

struct Group {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<WorkPtr> queue;
  std::thread* thread = nullptr;  // never destroyed: a thread still in MPI at exit is left alone
  bool started = false;
  bool joined = false;            // MPI_Init returned on the communication thread
  bool stopped = false;           // finalized, or the thread ended
  std::string initError;
  std::string broken;             // the first failure; later collectives fail with it
  GroupInfo info;
  double timeoutSeconds = 300;
  // Used by the communication thread only.
  Heartbeat heartbeat;
  int64_t startedCollectives = 0;
};

Group& group() {
  static Group& g = *new Group;
  return g;
}

int envInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

std::string rankName() { return "rank " + std::to_string(group().info.rank) + " of " + std::to_string(group().info.size); }

void finish(Work& work, const std::string& error) {
  std::lock_guard<std::mutex> lock(work.mutex);
  work.error = error;
  work.done = true;
  work.changed.notify_all();
}

// Polls one request until it completes or the deadline passes. Open MPI progresses non-blocking
// collectives inside MPI_Test, so the first polls are back to back; later ones sleep 50 us so
// that a long wait leaves the cores to the JS thread's computation.
void poll(mpi::MPI_Request* request, Clock::time_point deadline, const Work& work) {
  const mpi::Api& api = mpi::api();
  int flag = 0;
  Group& g = group();
  for (int polls = 0;; ++polls) {
    CR_MPI_CHECK(api.MPI_Test(request, &flag, kStatusIgnore));
    if (flag) return;
    g.heartbeat.beat(g.startedCollectives);
    if (Clock::now() > deadline) {
      const std::string laggards = g.heartbeat.laggards(g.startedCollectives);
      CR_CHECK(false, rankName(), ": ", work.what, " did not complete within ", g.timeoutSeconds, " s: ",
               laggards.empty() ? "every other rank is alive and has started it" : laggards,
               " (every rank must run the same collectives in the same order); the process group is unusable from here on");
    }
    if (polls > 200) {
      struct timespec pause = {0, 50000};
      nanosleep(&pause, nullptr);
    } else {
      std::this_thread::yield();
    }
  }
}

mpi::MPI_Op mpiOp(const mpi::Api& api, ReduceOp op) {
  switch (op) {
    case ReduceOp::Max: return api.ompi_mpi_op_max;
    case ReduceOp::Min: return api.ompi_mpi_op_min;
    default: return api.ompi_mpi_op_sum;
  }
}

void allReduceBuffer(void* data, int64_t count, mpi::MPI_Datatype type, size_t elementSize, ReduceOp op,
                     Clock::time_point deadline, const Work& work) {
  const mpi::Api& api = mpi::api();
  for (int64_t offset = 0; offset < count; offset += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, count - offset));
    mpi::MPI_Request request = nullptr;
    CR_MPI_CHECK(api.MPI_Iallreduce(kInPlace, static_cast<char*>(data) + offset * elementSize, n, type, mpiOp(api, op),
                                    api.ompi_mpi_comm_world, &request));
    poll(&request, deadline, work);
  }
}

void broadcastBuffer(void* data, int64_t bytes, int root, Clock::time_point deadline, const Work& work) {
  const mpi::Api& api = mpi::api();
  for (int64_t offset = 0; offset < bytes; offset += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, bytes - offset));
    mpi::MPI_Request request = nullptr;
    CR_MPI_CHECK(api.MPI_Ibcast(static_cast<char*>(data) + offset, n, api.ompi_mpi_byte, root, api.ompi_mpi_comm_world,
                                &request));
    poll(&request, deadline, work);
  }
}

// The gradients of a bucket are packed into one buffer, reduced in one collective, and unpacked
// into the outputs (divided by the group size for a mean).
void runAllReduce(Work& work, Clock::time_point deadline) {
  int64_t total = 0;
  for (const Tensor& t : work.inputs) total += t.numel();
  std::vector<float> packed(static_cast<size_t>(total));  // (total,)
  int64_t offset = 0;
  for (const Tensor& t : work.inputs) {
    std::memcpy(packed.data() + offset, t.f32(), t.nbytes());
    offset += t.numel();
  }
  allReduceBuffer(packed.data(), total, mpi::api().ompi_mpi_float, sizeof(float), work.op, deadline, work);
  const float size = static_cast<float>(group().info.size);
  offset = 0;
  for (Tensor& out : work.outputs) {
    float* dst = out.f32();
    const float* src = packed.data() + offset;
    if (work.op == ReduceOp::Mean) {
      for (int64_t i = 0; i < out.numel(); ++i) dst[i] = src[i] / size;
    } else {
      std::memcpy(dst, src, out.nbytes());
    }
    offset += out.numel();
  }
}

void run(Work& work) {
  Group& g = group();
  const Clock::time_point deadline =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(g.timeoutSeconds * 1e6));
  if (work.kind != Work::Kind::Finalize) ++g.startedCollectives;
  switch (work.kind) {
    case Work::Kind::AllReduce:
      runAllReduce(work, deadline);
      break;
    case Work::Kind::AllReduceValues:
      allReduceBuffer(work.values.data(), static_cast<int64_t>(work.values.size()), mpi::api().ompi_mpi_double,
                      sizeof(double), work.op, deadline, work);
      if (work.op == ReduceOp::Mean) {
        for (double& v : work.values) v /= g.info.size;
      }
      break;
    case Work::Kind::Broadcast:
      for (Tensor& t : work.inputs) broadcastBuffer(t.storage->data, static_cast<int64_t>(t.nbytes()), work.root, deadline, work);
      break;
    case Work::Kind::BroadcastBytes:
      broadcastBuffer(work.bytes.data(), static_cast<int64_t>(work.bytes.size()), work.root, deadline, work);
      break;
    case Work::Kind::Barrier: {
      mpi::MPI_Request request = nullptr;
      CR_MPI_CHECK(mpi::api().MPI_Ibarrier(mpi::api().ompi_mpi_comm_world, &request));
      poll(&request, deadline, work);
      break;
    }
    case Work::Kind::Finalize:
      g.heartbeat.stop();
      CR_MPI_CHECK(mpi::api().MPI_Finalize());
      break;
  }
}

void initialiseMpi() {
  Group& g = group();
  const mpi::Api& api = mpi::api();
  int already = 0;
  CR_MPI_CHECK(api.MPI_Initialized(&already));
  CR_CHECK(!already, "MPI was already initialised in this process by another library");
  int provided = 0;
  // Only the communication thread calls MPI.
  CR_MPI_CHECK(api.MPI_Init_thread(nullptr, nullptr, mpi::MPI_THREAD_FUNNELED, &provided));
  mpi::MPI_Comm world = api.ompi_mpi_comm_world;
  // Errors come back as codes (and become JS exceptions) instead of ending the process.
  CR_MPI_CHECK(api.MPI_Comm_set_errhandler(world, api.ompi_mpi_errors_return));
  GroupInfo info;
  CR_MPI_CHECK(api.MPI_Comm_rank(world, &info.rank));
  CR_MPI_CHECK(api.MPI_Comm_size(world, &info.size));
  mpi::MPI_Comm local = nullptr;
  CR_MPI_CHECK(api.MPI_Comm_split_type(world, mpi::MPI_COMM_TYPE_SHARED, info.rank, api.ompi_mpi_info_null, &local));
  CR_MPI_CHECK(api.MPI_Comm_rank(local, &info.localRank));
  CR_MPI_CHECK(api.MPI_Comm_size(local, &info.localSize));
  CR_MPI_CHECK(api.MPI_Comm_free(&local));
  g.heartbeat.start(info.rank, info.size);
  std::lock_guard<std::mutex> lock(g.mutex);
  g.info = info;
}

void threadMain() {
  Group& g = group();
  try {
    initialiseMpi();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(g.mutex);
    g.initError = e.what();
    g.stopped = true;
    g.changed.notify_all();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    g.joined = true;
    g.changed.notify_all();
  }
  for (;;) {
    WorkPtr work;
    std::string broken;
    {
      std::unique_lock<std::mutex> lock(g.mutex);
      // Idle: the heartbeat goes on, so that waiting ranks know this one is alive.
      while (!g.changed.wait_for(lock, std::chrono::milliseconds(200), [&g] { return !g.queue.empty(); })) {
        lock.unlock();
        g.heartbeat.beat(g.startedCollectives);
        lock.lock();
      }
      work = g.queue.front();
      g.queue.pop_front();
      broken = g.broken;
    }
    const bool last = work->kind == Work::Kind::Finalize;
    if (!broken.empty() && !last) {
      finish(*work, "the process group is broken by an earlier failure: " + broken);
      continue;
    }
    const Clock::time_point start = Clock::now();
    std::string error;
    try {
      run(*work);
    } catch (const std::exception& e) {
      error = e.what();
      std::lock_guard<std::mutex> lock(g.mutex);
      if (g.broken.empty()) g.broken = error;
    }
    work->seconds = std::chrono::duration<double>(Clock::now() - start).count();
    finish(*work, error);
    if (last) break;
  }
  std::lock_guard<std::mutex> lock(g.mutex);
  g.stopped = true;
}

void requireJoined(const char* op) {
  Group& g = group();
  std::lock_guard<std::mutex> lock(g.mutex);
  CR_CHECK(g.joined, op, ": the process group is not initialised: call distributed.init() first");
  CR_CHECK(!g.stopped, op, ": the process group was finalized");
}

WorkPtr enqueue(WorkPtr work) {
  Group& g = group();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.queue.push_back(work);
  g.changed.notify_all();
  return work;
}

WorkPtr completed(WorkPtr work) {
  work->done = true;
  return work;
}

std::string describeTensors(const char* op, const std::vector<Tensor>& tensors) {
  int64_t values = 0;
  for (const Tensor& t : tensors) values += t.numel();
  return std::string(op) + " of " + std::to_string(tensors.size()) + (tensors.size() == 1 ? " tensor (" : " tensors (") +
         std::to_string(values) + " values)";
}

// The device of a collective's tensors: all on one, contiguous storage fully used.
Device deviceOf(const char* op, const std::vector<Tensor>& tensors) {
  CR_CHECK_TYPE(!tensors.empty(), op, ": expected at least one tensor");
  for (const Tensor& t : tensors) {
    CR_CHECK_TYPE(t.device == tensors[0].device, op, ": all tensors must be on one device");
  }
  return tensors[0].device;
}

}  // namespace

LauncherInfo launcherInfo() {
  LauncherInfo launcher;
  launcher.launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
  launcher.group.rank = envInt("OMPI_COMM_WORLD_RANK", 0);
  launcher.group.size = envInt("OMPI_COMM_WORLD_SIZE", 1);
  launcher.group.localRank = envInt("OMPI_COMM_WORLD_LOCAL_RANK", 0);
  launcher.group.localSize = envInt("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  return launcher;
}

GroupInfo init(double timeoutSeconds) {
  Group& g = group();
  CR_CHECK_RANGE(timeoutSeconds > 0, "distributed.init: timeout must be positive, got ", timeoutSeconds);
  mpi::api();  // throws the reason when MPI is not available
  std::unique_lock<std::mutex> lock(g.mutex);
  CR_CHECK(!g.started, "distributed.init: the process group is already initialised (once per process)");
  g.started = true;
  g.timeoutSeconds = timeoutSeconds;
  g.info = launcherInfo().group;
  g.thread = new std::thread(threadMain);
  g.thread->detach();
  const bool answered = g.changed.wait_for(lock, std::chrono::microseconds(static_cast<int64_t>(timeoutSeconds * 1e6)),
                                           [&g] { return g.joined || g.stopped; });
  CR_CHECK(answered, "distributed.init: ", rankName(), " waited ", timeoutSeconds,
           " s for the other ranks to join (MPI_Init did not return): a rank died before joining or was never started");
  CR_CHECK(g.initError.empty(), "distributed.init: ", g.initError);
  return g.info;
}

bool initialized() {
  std::lock_guard<std::mutex> lock(group().mutex);
  return group().joined && !group().stopped;
}

GroupInfo groupInfo() {
  requireJoined("distributed");
  std::lock_guard<std::mutex> lock(group().mutex);
  return group().info;
}

void finalize() {
  requireJoined("distributed.finalize");
  auto work = std::make_shared<Work>();
  work->kind = Work::Kind::Finalize;
  work->what = "finalize";
  enqueue(work);
  // MPI_Finalize waits for the other ranks; one that died would make it wait forever.
  std::unique_lock<std::mutex> lock(work->mutex);
  const bool done = work->changed.wait_for(
      lock, std::chrono::microseconds(static_cast<int64_t>(group().timeoutSeconds * 1e6)), [&work] { return work->done; });
  CR_CHECK(done, "distributed.finalize: ", rankName(), ": MPI_Finalize did not return within ", group().timeoutSeconds,
           " s: another rank died or did not finalize");
  if (!work->error.empty()) throw Error(ErrorKind::Generic, work->error);
}

WorkPtr allReduce(std::vector<Tensor> inputs, std::vector<Tensor> outputs, ReduceOp op) {
  requireJoined("allReduce");
  const Device device = deviceOf("allReduce", inputs);
  CR_CHECK_TYPE(outputs.size() == inputs.size(), "allReduce: ", inputs.size(), " inputs but ", outputs.size(), " outputs");
  for (size_t i = 0; i < inputs.size(); ++i) {
    CR_CHECK_TYPE(outputs[i].device == device && outputs[i].dtype == inputs[i].dtype && outputs[i].shape == inputs[i].shape &&
                      outputs[i].format == inputs[i].format,
                  "allReduce: output ", i, " must match its input's shape, dtype, layout and device");
  }
  auto work = std::make_shared<Work>();
  work->kind = Work::Kind::AllReduce;
  work->op = op;
  work->what = describeTensors("allReduce", inputs);
  if (device == Device::CUDA) {
    work->joinDeviceStream = ncclAllReduce(inputs, outputs, op, groupInfo());
    work->inputs = std::move(inputs);
    work->outputs = std::move(outputs);
    return completed(work);
  }
  for (const Tensor& t : inputs) expectFloat32("allReduce", "tensors", t);
  work->inputs = std::move(inputs);
  work->outputs = std::move(outputs);
  return enqueue(work);
}

WorkPtr allReduceValues(std::vector<double> values, ReduceOp op) {
  requireJoined("allReduceValues");
  auto work = std::make_shared<Work>();
  work->kind = Work::Kind::AllReduceValues;
  work->op = op;
  work->what = "allReduce of " + std::to_string(values.size()) + " numbers";
  work->values = std::move(values);
  return enqueue(work);
}

WorkPtr broadcast(std::vector<Tensor> tensors, int root) {
  requireJoined("broadcast");
  const Device device = deviceOf("broadcast", tensors);
  const GroupInfo info = groupInfo();
  CR_CHECK_RANGE(root >= 0 && root < info.size, "broadcast: root must be a rank in [0, ", info.size, "), got ", root);
  auto work = std::make_shared<Work>();
  work->kind = Work::Kind::Broadcast;
  work->root = root;
  work->what = describeTensors("broadcast", tensors);
  if (device == Device::CUDA) {
    ncclBroadcast(tensors, root, info);
    return completed(work);
  }
  work->inputs = std::move(tensors);
  return enqueue(work);
}

WorkPtr broadcastBytes(std::vector<uint8_t> bytes, int root) {
  requireJoined("broadcast");
  const GroupInfo info = groupInfo();
  CR_CHECK_RANGE(root >= 0 && root < info.size, "broadcast: root must be a rank in [0, ", info.size, "), got ", root);
  auto work = std::make_shared<Work>();
  work->kind = Work::Kind::BroadcastBytes;
  work->root = root;
  work->what = "broadcast of " + std::to_string(bytes.size()) + " bytes";
  work->bytes = std::move(bytes);
  return enqueue(work);
}

WorkPtr barrier() {
  requireJoined("barrier");
  auto work = std::make_shared<Work>();
  work->kind = Work::Kind::Barrier;
  work->what = "barrier";
  return enqueue(work);
}

void wait(const WorkPtr& work) {
  std::unique_lock<std::mutex> lock(work->mutex);
  work->changed.wait(lock, [&work] { return work->done; });
  if (!work->error.empty()) throw Error(ErrorKind::Generic, work->error);
  if (work->joinDeviceStream) {
    std::function<void()> join = std::move(work->joinDeviceStream);
    work->joinDeviceStream = nullptr;
    join();
  }
  // The tensors' memory goes back now, not when the JS handle of the work is collected.
  work->inputs.clear();
  work->outputs.clear();
}

bool isDone(const WorkPtr& work) {
  std::lock_guard<std::mutex> lock(work->mutex);
  return work->done;
}

}  // namespace cr::dist
