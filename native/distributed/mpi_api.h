// The part of the MPI API this project calls, declared by the project (no mpi.h at build time)
// and resolved with dlsym from libmpi.so.40 at run time (mpi_library.cc).
//
// These declarations are Open MPI's ABI (Open MPI 4.x / 5.x, Debian's libopenmpi3): handles are
// pointers to opaque structs, and the predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...)
// are the addresses of exported objects (ompi_mpi_comm_world, ...). MPICH's ABI differs (integer
// handles), so an MPICH libmpi is refused at load time by the missing ompi_* symbols.
#pragma once
#include <cstddef>

namespace cr::mpi {

struct ompi_communicator_t;
struct ompi_datatype_t;
struct ompi_op_t;
struct ompi_request_t;
struct ompi_errhandler_t;
struct ompi_info_t;

using MPI_Comm = ompi_communicator_t*;
using MPI_Datatype = ompi_datatype_t*;
using MPI_Op = ompi_op_t*;
using MPI_Request = ompi_request_t*;
using MPI_Errhandler = ompi_errhandler_t*;
using MPI_Info = ompi_info_t*;

// Open MPI's struct ompi_status_public_t.
struct MPI_Status {
  int MPI_SOURCE;
  int MPI_TAG;
  int MPI_ERROR;
  int _cancelled;
  size_t _ucount;
};

constexpr int MPI_SUCCESS = 0;
constexpr int MPI_THREAD_SINGLE = 0;
constexpr int MPI_THREAD_FUNNELED = 1;
constexpr int MPI_THREAD_SERIALIZED = 2;
constexpr int MPI_THREAD_MULTIPLE = 3;
constexpr int MPI_COMM_TYPE_SHARED = 0;
constexpr int MPI_MAX_ERROR_STRING = 256;
constexpr int MPI_MAX_LIBRARY_VERSION_STRING = 256;

// The functions, as pointers filled by bindMpiSymbols (X(name, return type, parameters)).
#define CR_MPI_FUNCTIONS(X)                                                                       \
  X(MPI_Initialized, int, (int* flag))                                                            \
  X(MPI_Finalized, int, (int* flag))                                                              \
  X(MPI_Init_thread, int, (int* argc, char*** argv, int required, int* provided))                 \
  X(MPI_Finalize, int, ())                                                                        \
  X(MPI_Abort, int, (MPI_Comm comm, int errorcode))                                               \
  X(MPI_Comm_rank, int, (MPI_Comm comm, int* rank))                                               \
  X(MPI_Comm_size, int, (MPI_Comm comm, int* size))                                               \
  X(MPI_Comm_split_type, int, (MPI_Comm comm, int type, int key, MPI_Info info, MPI_Comm* out))   \
  X(MPI_Comm_free, int, (MPI_Comm * comm))                                                        \
  X(MPI_Comm_dup, int, (MPI_Comm comm, MPI_Comm * out))                                           \
  X(MPI_Comm_set_errhandler, int, (MPI_Comm comm, MPI_Errhandler handler))                        \
  X(MPI_Iallreduce, int,                                                                          \
    (const void* send, void* recv, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm,        \
     MPI_Request* request))                                                                       \
  X(MPI_Ibcast, int, (void* buffer, int count, MPI_Datatype type, int root, MPI_Comm comm,       \
                      MPI_Request* request))                                                      \
  X(MPI_Ibarrier, int, (MPI_Comm comm, MPI_Request * request))                                    \
  X(MPI_Test, int, (MPI_Request * request, int* flag, MPI_Status* status))                        \
  X(MPI_Isend, int, (const void* buffer, int count, MPI_Datatype type, int dest, int tag,         \
                     MPI_Comm comm, MPI_Request* request))                                        \
  X(MPI_Irecv, int, (void* buffer, int count, MPI_Datatype type, int source, int tag,             \
                     MPI_Comm comm, MPI_Request* request))                                        \
  X(MPI_Cancel, int, (MPI_Request * request))                                                     \
  X(MPI_Request_free, int, (MPI_Request * request))                                               \
  X(MPI_Error_string, int, (int code, char* text, int* length))                                   \
  X(MPI_Get_library_version, int, (char* text, int* length))

// The predefined handles: exported objects whose addresses are the handles.
#define CR_MPI_OBJECTS(X)               \
  X(ompi_mpi_comm_world, MPI_Comm)      \
  X(ompi_mpi_float, MPI_Datatype)       \
  X(ompi_mpi_double, MPI_Datatype)      \
  X(ompi_mpi_byte, MPI_Datatype)        \
  X(ompi_mpi_op_sum, MPI_Op)            \
  X(ompi_mpi_op_max, MPI_Op)            \
  X(ompi_mpi_op_min, MPI_Op)            \
  X(ompi_mpi_errors_return, MPI_Errhandler) \
  X(ompi_mpi_info_null, MPI_Info)

struct Api {
#define CR_MPI_FUNCTION_POINTER(name, ret, params) ret(*name) params = nullptr;
  CR_MPI_FUNCTIONS(CR_MPI_FUNCTION_POINTER)
#undef CR_MPI_FUNCTION_POINTER
#define CR_MPI_OBJECT_HANDLE(symbol, type) type symbol = nullptr;
  CR_MPI_OBJECTS(CR_MPI_OBJECT_HANDLE)
#undef CR_MPI_OBJECT_HANDLE
};

}  // namespace cr::mpi
