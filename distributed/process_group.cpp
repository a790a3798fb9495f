// distributed.h: who this process is, and the collectives on tensors, sent
// to MPI (host tensors) or NCCL (CUDA tensors).
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "loom/backends/registry.h"
#include "loom/distributed/distributed.h"
#include "loom/distributed/transport.h"

namespace loom::distributed {
namespace {

struct State {
  bool initialized = false;
  GroupInfo group;  // a group of one until init()
};
State& state() {
  static State s;
  return s;
}

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : 0;
}

// Leaves the group at exit for programs that never call finalize():
// OpenMPI reports a process that exits without MPI_Finalize as failed.
void finalize_at_exit() { finalize(); }

// Each rank's share of this machine's cores, unless the user chose.
void divide_cores(const GroupInfo& g) {
  if (std::getenv("LOOM_NUM_THREADS") || std::getenv("OMP_NUM_THREADS") || g.local_size <= 1) return;
  const unsigned hw = std::thread::hardware_concurrency();
  set_num_threads(std::max(1, static_cast<int>(hw) / g.local_size));
}

void check_tensor(const Tensor& t, const char* who) {
  LOOM_CHECK(t.defined(), "distributed::{}: a tensor is undefined", who);
  LOOM_CHECK(t.is_contiguous(), "distributed::{}: tensors must be contiguous (got shape {})", who,
             shape_str(t.shape()));
}

}  // namespace

bool available() { return mpi::built(); }

int launched_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"})
    if (int n = env_int(name); n > 0) return n;
  return 1;
}

void init() {
  State& s = state();
  if (s.initialized) return;
  s.group = mpi::init();
  s.initialized = true;
  std::atexit(finalize_at_exit);
  divide_cores(s.group);
}

void finalize() {
  State& s = state();
  if (!s.initialized) return;
  nccl::finalize();
  mpi::finalize();
  s = State{};
}

bool initialized() { return state().initialized; }
int rank() { return state().group.rank; }
int world_size() { return state().group.size; }
int local_rank() { return state().group.local_rank; }
int local_size() { return state().group.local_size; }
bool is_primary() { return rank() == 0; }

// A joined group of one still calls the library (NCCL's path can be run
// on a machine with one GPU); only a process that never joined skips it.
void all_reduce(std::vector<Tensor>& tensors, bool average) {
  if (!initialized()) return;
  for (Tensor& t : tensors) {
    check_tensor(t, "all_reduce");
    if (t.numel() == 0) continue;
    if (t.device().kind == DeviceKind::cuda) {
      nccl::all_reduce(t.raw_data(), t.numel(), t.dtype(), t.device().index, state().group);
    } else {
      mpi::all_reduce(t.raw_data(), t.numel(), t.dtype());
    }
    if (average) {  // t = t / P + 0 * t
      if (is_floating(t.dtype())) {
        backend_for(t.device()).axpby(1.0 / world_size(), t.view(), 0.0, t.view());
      } else {
        Tensor mean = t.to(DType::f64);
        backend_for(t.device()).axpby(1.0 / world_size(), mean.view(), 0.0, mean.view());
        backend_for(t.device()).copy(mean.view(), t.view());
      }
    }
  }
}

void broadcast(std::vector<Tensor>& tensors, int root) {
  LOOM_CHECK(root >= 0 && root < world_size(), "distributed::broadcast: root {} is not a rank of {}",
             root, world_size());
  if (!initialized()) return;
  for (Tensor& t : tensors) {
    check_tensor(t, "broadcast");
    if (t.numel() == 0) continue;
    if (t.device().kind == DeviceKind::cuda)
      nccl::broadcast(t.raw_data(), t.numel(), t.dtype(), root, t.device().index, state().group);
    else
      mpi::broadcast(t.raw_data(), t.numel(), t.dtype(), root);
  }
}

void barrier() {
  if (world_size() > 1) mpi::barrier();
}

namespace {
template <typename T>
std::vector<std::vector<T>> gather_values(const std::vector<T>& values) {
  if (world_size() == 1) return {values};
  const std::string mine(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  std::vector<std::vector<T>> out;
  for (const std::string& bytes : mpi::all_gather(mine)) {
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
    out.push_back(std::move(v));
  }
  return out;
}
}  // namespace

std::vector<std::vector<int64_t>> all_gather(const std::vector<int64_t>& values) {
  return gather_values(values);
}
std::vector<std::vector<double>> all_gather(const std::vector<double>& values) {
  return gather_values(values);
}
std::vector<std::string> all_gather(const std::string& bytes) {
  if (world_size() == 1) return {bytes};
  return mpi::all_gather(bytes);
}

void abort_job(const std::string& message, int exit_code) {
  std::cerr << fmt::format("loom: rank {} of {} failed: {}\n", rank(), world_size(), message)
            << std::flush;
  if (initialized() && world_size() > 1) mpi::abort(exit_code);
  std::_Exit(exit_code);
}

PendingReduce start_all_reduce(void* data, int64_t count, DType dtype, Device device) {
  PendingReduce p{data, count, dtype, device, -1};
  if (!initialized() || count == 0) return p;
  if (device.kind == DeviceKind::cuda) {
    // NCCL is asynchronous on the stream already: "done" is the stream's business.
    nccl::all_reduce(data, count, dtype, device.index, state().group);
    return p;
  }
  p.request = mpi::start_all_reduce(data, count, dtype);
  return p;
}

bool test(PendingReduce& p) {
  if (p.request < 0) return true;
  if (!mpi::test(p.request)) return false;
  p.request = -1;
  return true;
}

void wait(PendingReduce& p) {
  if (p.request < 0) return;
  mpi::wait(p.request);
  p.request = -1;
}

}  // namespace loom::distributed
