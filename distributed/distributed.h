// Data-parallel training across processes: the process group, and the
// collectives that keep the replicas of a model equal.
//
// Launch N copies of a program with `mpirun -np N prog ...`; each process
// is one rank. init() joins them (reading what mpirun put in the
// environment); afterwards
//   all_reduce(tensors, average)  t = sum (or mean) over ranks of t, in place
//   broadcast(tensors, root)      t = root's t, in place
//   barrier()                     returns once every rank has called it
// Host tensors go through MPI (LOOM_WITH_MPI), CUDA tensors through NCCL on
// Loom's CUDA stream (LOOM_WITH_NCCL). Every rank must call the same
// collectives in the same order with tensors of the same shapes and dtypes.
//
// Without init() (or with one process) the group is this process alone:
// rank() is 0, world_size() 1, and the collectives return their input.
// Model::fit uses all of this by itself when the program runs under mpirun
// with more than one process (layers/training/fit.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"

namespace loom::distributed {

// Whether this build can join a process group (LOOM_WITH_MPI).
bool available();
// What mpirun (OpenMPI, MPICH, Slurm's PMI) says about this process: the
// number of processes launched together, 1 when not launched by one.
int launched_world_size();

// Joins the process group (MPI_Init). Idempotent. Without LOOM_WITH_MPI it
// throws naming the option when the launcher started several processes.
// Unless LOOM_NUM_THREADS or OMP_NUM_THREADS is set, each rank then uses
// its share of this machine's cores (cores / ranks on this machine).
void init();
// Leaves it (MPI_Finalize); also done at exit for a group init() joined.
void finalize();
bool initialized();

int rank();         // 0 .. world_size()-1
int world_size();
int local_rank();   // among the ranks on this machine (pick a GPU with it)
int local_size();
bool is_primary();  // rank() == 0: the one that prints and writes files

// Collectives over every rank (see the top of this file). Tensors must be
// contiguous; f32, f64, i32 and i64 are supported; average divides by
// world_size() (integers: rounded toward zero).
void all_reduce(std::vector<Tensor>& tensors, bool average = false);
void broadcast(std::vector<Tensor>& tensors, int root = 0);
void barrier();
// Every rank's `values` in rank order (each rank may give a different count).
std::vector<std::vector<int64_t>> all_gather(const std::vector<int64_t>& values);
std::vector<std::vector<double>> all_gather(const std::vector<double>& values);
std::vector<std::string> all_gather(const std::string& bytes);

// Prints "loom: rank R of N failed: <message>" to stderr and stops every
// rank of the job (MPI_Abort): a rank that cannot go on would otherwise
// leave the others waiting in their next collective forever.
[[noreturn]] void abort_job(const std::string& message, int exit_code = 1);

// ---- what the gradient reducer builds on (distributed/gradient_reducer.h) -------------------
// A reduction in flight: a sum over ranks of `count` elements at `data`,
// in place. Started by start_all_reduce, finished by wait (or test).
struct PendingReduce {
  void* data = nullptr;
  int64_t count = 0;
  DType dtype = DType::f32;
  Device device;
  int64_t request = -1;  // the communication library's handle; -1: none / done
};
PendingReduce start_all_reduce(void* data, int64_t count, DType dtype, Device device);
// True once the reduction is done; lets the library make progress.
bool test(PendingReduce& pending);
void wait(PendingReduce& pending);

}  // namespace loom::distributed
