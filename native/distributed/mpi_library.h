// Run-time loading of Open MPI's libmpi.so.40 with dlopen (the search of core/library_search.h:
// $CUDNN_RESNET_MPI_PATH, then the loader path), and the status checks of its calls. The addon
// never links MPI, so it loads where MPI is absent and says why distributed training is not
// available.
#pragma once
#include <string>

#include "../core/library_search.h"
#include "mpi_api.h"

namespace cr::mpi {

// The first call loads the library (thread-safe, once per process); never throws.
const LibraryInfo& mpiLibrary();
// The resolved functions and handles; throws cr::Error with the reason when MPI is not loaded.
const Api& api();

// "<call> failed: <MPI's own text> (error <code>)" naming file and line, unless code is MPI_SUCCESS.
void checkMpi(int code, const char* call, const char* file, int line);

}  // namespace cr::mpi

#define CR_MPI_CHECK(call) ::cr::mpi::checkMpi((call), #call, __FILE__, __LINE__)
