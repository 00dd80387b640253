// NCCL loaded with dlopen (libnccl.so.2: $CUDNN_RESNET_NCCL_PATH, the loader path, then the
// nvidia/nccl/lib and nvidia/cu13/lib folders of PyTorch's pip wheels) and the collectives of
// CUDA tensors on the backend's stream (design in nccl.h).
#include <dlfcn.h>

#include <cstring>
#include <mutex>

#include "../core/error.h"
#include "../cuda/runtime.h"
#include "nccl.h"
#include "nccl_api.h"

namespace cr::dist {
namespace {

nccl::Api& table() {
  static nccl::Api& api = *new nccl::Api;
  return api;
}

std::vector<std::string> bindSymbols(void* library) {
  using namespace nccl;
  Api resolved;
  std::vector<std::string> missing;
#define CR_NCCL_BIND(name, params)                                                        \
  resolved.name = reinterpret_cast<ncclResult_t(*) params>(dlsym(library, #name)); \
  if (resolved.name == nullptr) missing.emplace_back(#name);
  CR_NCCL_FUNCTIONS(CR_NCCL_BIND)
#undef CR_NCCL_BIND
  resolved.ncclGetErrorString = reinterpret_cast<const char* (*)(ncclResult_t)>(dlsym(library, "ncclGetErrorString"));
  if (resolved.ncclGetErrorString == nullptr) missing.emplace_back("ncclGetErrorString");
  if (missing.empty()) table() = resolved;
  return missing;
}

void unbindSymbols() { table() = nccl::Api{}; }

// NCCL 2.9 and newer report MAJOR * 10000 + MINOR * 100 + PATCH. ncclAvg needs 2.10.
std::string checkVersion(void*, const std::string& path, LibraryInfo& info) {
  int code = 0;
  if (table().ncclGetVersion(&code) != nccl::ncclSuccess) return "ncclGetVersion failed for " + path;
  setVersionFromCode(info, code);
  if (info.versionNumber < 21000) return "NCCL " + info.version + " at " + path + " is too old: NCCL 2.10 or newer is required";
  return "";
}

LibrarySpec ncclSpec() {
  LibrarySpec spec;
  spec.title = "NCCL";
  spec.soname = "libnccl.so.2";
  spec.envVariable = "CUDNN_RESNET_NCCL_PATH";
  spec.wheelFolders = {"nvidia/nccl/lib", "nvidia/cu13/lib"};
  spec.bind = bindSymbols;
  spec.unbind = unbindSymbols;
  spec.checkVersion = checkVersion;
  return spec;
}

const LibraryInfo& ncclLibrary() {
  static std::once_flag once;
  static LibraryInfo& info = *new LibraryInfo;
  std::call_once(once, [] { info = loadLibrary(ncclSpec()); });
  return info;
}

void checkNccl(nccl::ncclResult_t result, const char* call, const char* file, int line) {
  if (result == nccl::ncclSuccess) return;
  const char* text = table().ncclGetErrorString != nullptr ? table().ncclGetErrorString(result) : nullptr;
  ::cr::detail::fail(ErrorKind::Generic, file, line, call, " failed: NCCL result ", static_cast<int>(result),
                     text != nullptr ? std::string(" (") + text + ")" : std::string());
}
#define CR_NCCL_CHECK(call) checkNccl((call), #call, __FILE__, __LINE__)

// The communicator of the group, made on first use (a collective over MPI: every rank must
// reach its first CUDA collective).
nccl::ncclComm_t communicator(const GroupInfo& group) {
  static std::mutex mutex;
  static nccl::ncclComm_t comm = nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (comm != nullptr) return comm;
  const LibraryInfo& info = ncclLibrary();
  CR_CHECK(info.loaded, "NCCL is not available for CUDA tensors: ", info.reason);
  cuda::ensureAvailable();
  nccl::ncclUniqueId id{};
  if (group.rank == 0) CR_NCCL_CHECK(table().ncclGetUniqueId(&id));
  WorkPtr shared = broadcastBytes(std::vector<uint8_t>(id.internal, id.internal + sizeof(id.internal)), 0);
  wait(shared);
  std::memcpy(id.internal, shared->bytes.data(), sizeof(id.internal));
  CR_NCCL_CHECK(table().ncclCommInitRank(&comm, group.size, id, group.rank));
  return comm;
}

nccl::ncclDataType_t ncclType(const char* op, DType dtype) {
  switch (dtype) {
    case DType::Float32: return nccl::ncclFloat32;
    case DType::Float16: return nccl::ncclFloat16;
    case DType::BFloat16: return nccl::ncclBfloat16;
    case DType::UInt8: return nccl::ncclUint8;
    default: CR_CHECK_TYPE(false, op, ": NCCL reduces float32, float16 and bfloat16 tensors, got ", dtypeName(dtype));
  }
}

nccl::ncclRedOp_t ncclOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::Mean: return nccl::ncclAvg;
    case ReduceOp::Max: return nccl::ncclMax;
    case ReduceOp::Min: return nccl::ncclMin;
    default: return nccl::ncclSum;
  }
}

// A failure reported by NCCL since the last call (a peer that left, a network error).
void checkAsync(nccl::ncclComm_t comm, const char* op) {
  nccl::ncclResult_t pending = nccl::ncclSuccess;
  CR_NCCL_CHECK(table().ncclCommGetAsyncError(comm, &pending));
  CR_CHECK(pending == nccl::ncclSuccess || pending == nccl::ncclInProgress, op, ": NCCL reported an asynchronous error ",
           static_cast<int>(pending), ": ", table().ncclGetErrorString(pending));
}

}  // namespace

NcclReport ncclReport() {
  NcclReport report;
  report.compiled = true;
  report.library = ncclLibrary();
  return report;
}

std::function<void()> ncclAllReduce(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs, ReduceOp op,
                                    const GroupInfo& group) {
  nccl::ncclComm_t comm = communicator(group);
  checkAsync(comm, "allReduce");
  static cudaStream_t commStream = [] {
    cudaStream_t s = nullptr;
    CR_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return s;
  }();
  cudaEvent_t ready = nullptr;
  CR_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  CR_CUDA_CHECK(cudaEventRecord(ready, cuda::stream()));
  CR_CUDA_CHECK(cudaStreamWaitEvent(commStream, ready, 0));
  CR_CUDA_CHECK(cudaEventDestroy(ready));
  CR_NCCL_CHECK(table().ncclGroupStart());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const nccl::ncclDataType_t type = ncclType("allReduce", inputs[i].dtype);
    CR_CHECK_TYPE(type != nccl::ncclUint8, "allReduce: uint8 tensors cannot be reduced");
    CR_NCCL_CHECK(table().ncclAllReduce(inputs[i].storage->data, outputs[i].storage->data, static_cast<size_t>(inputs[i].numel()),
                                        type, ncclOp(op), comm, commStream));
  }
  CR_NCCL_CHECK(table().ncclGroupEnd());
  cudaEvent_t done = nullptr;
  CR_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  CR_CUDA_CHECK(cudaEventRecord(done, commStream));
  return [done] {
    CR_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), done, 0));
    CR_CUDA_CHECK(cudaEventDestroy(done));
  };
}

void ncclBroadcast(std::vector<Tensor>& tensors, int root, const GroupInfo& group) {
  nccl::ncclComm_t comm = communicator(group);
  checkAsync(comm, "broadcast");
  CR_NCCL_CHECK(table().ncclGroupStart());
  for (Tensor& t : tensors) {
    CR_NCCL_CHECK(table().ncclBroadcast(t.storage->data, t.storage->data, t.nbytes(), nccl::ncclUint8, root, comm, cuda::stream()));
  }
  CR_NCCL_CHECK(table().ncclGroupEnd());
}

}  // namespace cr::dist
