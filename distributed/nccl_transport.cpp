// distributed/transport.h's nccl:: on NVIDIA's NCCL. One communicator per
// process, made on first use for the device the first collective names:
// rank 0 makes the unique id and MPI broadcasts it (ncclCommInitRank). The
// collectives are enqueued on the stream every Loom kernel of that device
// runs on, so they are ordered after the kernels that produced the
// gradients and before the optimizer's; synchronize() is only needed
// before the host reads the result.
#include <cuda_runtime.h>
#include <nccl.h>

#include "loom/backends/cuda/cuda_backend.h"
#include "loom/distributed/transport.h"

namespace loom::distributed::nccl {
namespace {

struct Communicator {
  ncclComm_t comm = nullptr;
  int device = -1;
};
Communicator g_comm;

void check(ncclResult_t rc, const char* call) {
  if (rc != ncclSuccess) fail("distributed: {} failed: {}", call, ncclGetErrorString(rc));
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
    case DType::bf16: return ncclBfloat16;
    case DType::f16: return ncclFloat16;
  }
  fail("distributed: no NCCL type for dtype {}", dtype_name(t));
}

ncclComm_t communicator(int device, const GroupInfo& group) {
  if (g_comm.comm) {
    LOOM_CHECK(g_comm.device == device,
               "distributed: this rank's NCCL communicator is on cuda:{}, not cuda:{}: one GPU per "
               "rank (pick it with local_rank())",
               g_comm.device, device);
    return g_comm.comm;
  }
  ncclUniqueId id;
  if (group.rank == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  static_assert(sizeof id % sizeof(int32_t) == 0, "the NCCL id goes over MPI as int32s");
  mpi::broadcast(&id, static_cast<int64_t>(sizeof id / sizeof(int32_t)), DType::i32, 0);
  if (cudaSetDevice(device) != cudaSuccess) fail("distributed: cudaSetDevice({}) failed", device);
  check(ncclCommInitRank(&g_comm.comm, group.size, id, group.rank), "ncclCommInitRank");
  g_comm.device = device;
  return g_comm.comm;
}

cudaStream_t stream_of(int device) { return static_cast<cudaStream_t>(cuda_stream(device)); }

}  // namespace

bool built() { return true; }

void all_reduce(void* data, int64_t count, DType dtype, int device, const GroupInfo& group) {
  ncclComm_t comm = communicator(device, group);
  check(ncclAllReduce(data, data, static_cast<size_t>(count), nccl_type(dtype), ncclSum, comm,
                      stream_of(device)),
        "ncclAllReduce");
}

void broadcast(void* data, int64_t count, DType dtype, int root, int device, const GroupInfo& group) {
  ncclComm_t comm = communicator(device, group);
  check(ncclBroadcast(data, data, static_cast<size_t>(count), nccl_type(dtype), root, comm,
                      stream_of(device)),
        "ncclBroadcast");
}

void synchronize(int device) {
  if (cudaStreamSynchronize(stream_of(device)) != cudaSuccess)
    fail("distributed: waiting for cuda:{}'s stream failed", device);
}

void finalize() {
  if (g_comm.comm) ncclCommDestroy(g_comm.comm);
  g_comm = {};
}

}  // namespace loom::distributed::nccl
