// The communication libraries under distributed.h, one namespace each:
// mpi:: (host memory, and the process group itself) and nccl:: (CUDA
// memory). Each has a real implementation (mpi_transport.cpp with
// LOOM_WITH_MPI, nccl_transport.cpp with LOOM_WITH_NCCL) and one that
// says which option to turn on (*_disabled.cpp). Internal to distributed/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loom/backends/types.h"

namespace loom::distributed {

struct GroupInfo {
  int rank = 0, size = 1, local_rank = 0, local_size = 1;
};

namespace mpi {
bool built();
// Joins MPI_COMM_WORLD (MPI_Init_thread, FUNNELED: only the thread that
// called init() communicates) unless MPI is already initialized by the
// program, and says who this process is.
GroupInfo init();
void finalize();  // only when init() initialized MPI
// In place over every rank: sum (all_reduce), root's copy (broadcast).
void all_reduce(void* data, int64_t count, DType dtype);
void broadcast(void* data, int64_t count, DType dtype, int root);
void barrier();
// Every rank's bytes, in rank order.
std::vector<std::string> all_gather(const std::string& bytes);
// Non-blocking sum in place; the handle is an index into the library's
// requests. test() lets MPI progress and says whether it is done.
int64_t start_all_reduce(void* data, int64_t count, DType dtype);
bool test(int64_t request);
void wait(int64_t request);
[[noreturn]] void abort(int exit_code);
}  // namespace mpi

namespace nccl {
bool built();
// Collectives on device memory of cuda:`device`, enqueued on Loom's stream
// for that device. The communicator is made on first use: rank 0 makes the
// unique id and MPI broadcasts it.
void all_reduce(void* data, int64_t count, DType dtype, int device, const GroupInfo& group);
void broadcast(void* data, int64_t count, DType dtype, int root, int device, const GroupInfo& group);
void synchronize(int device);  // waits for the device's stream
void finalize();
}  // namespace nccl

}  // namespace loom::distributed
