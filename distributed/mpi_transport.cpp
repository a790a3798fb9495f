// distributed/transport.h's mpi:: on an MPI library (OpenMPI on Debian).
#include <mpi.h>

#include <climits>
#include <cstdlib>

#include "loom/distributed/transport.h"

namespace loom::distributed::mpi {
namespace {

bool g_initialized_here = false;
std::vector<MPI_Request> g_requests;  // index = handle; MPI_REQUEST_NULL when done

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    case DType::bf16:
    case DType::f16: break;  // MPI has no 16-bit float
  }
  fail("distributed: no MPI type for dtype {}", dtype_name(t));
}

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  fail("distributed: {} failed: {}", call, std::string(text, static_cast<size_t>(length)));
}

// MPI counts are ints: larger buffers go in pieces.
constexpr int64_t kMaxCount = INT_MAX / 2;

}  // namespace

bool built() { return true; }

GroupInfo init() {
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    g_initialized_here = true;
  }
  GroupInfo g;
  MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g.size);
  // The ranks sharing this machine's memory: the local rank picks a GPU and
  // the local size divides the cores.
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type");
  MPI_Comm_rank(local, &g.local_rank);
  MPI_Comm_size(local, &g.local_size);
  MPI_Comm_free(&local);
  return g;
}

void finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_initialized_here && !finalized) MPI_Finalize();
  g_initialized_here = false;
}

void all_reduce(void* data, int64_t count, DType dtype) {
  char* p = static_cast<char*>(data);
  for (int64_t done = 0; done < count; done += kMaxCount) {
    const int n = static_cast<int>(std::min(kMaxCount, count - done));
    check(MPI_Allreduce(MPI_IN_PLACE, p + done * dtype_size(dtype), n, mpi_type(dtype), MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
}

void broadcast(void* data, int64_t count, DType dtype, int root) {
  char* p = static_cast<char*>(data);
  for (int64_t done = 0; done < count; done += kMaxCount) {
    const int n = static_cast<int>(std::min(kMaxCount, count - done));
    check(MPI_Bcast(p + done * dtype_size(dtype), n, mpi_type(dtype), root, MPI_COMM_WORLD),
          "MPI_Bcast");
  }
}

void barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

std::vector<std::string> all_gather(const std::string& bytes) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  LOOM_CHECK(bytes.size() <= static_cast<size_t>(kMaxCount),
             "distributed: all_gather of {} bytes is too large", bytes.size());
  const int mine = static_cast<int>(bytes.size());
  std::vector<int> counts(static_cast<size_t>(size)), offsets(static_cast<size_t>(size));
  check(MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  int64_t total = 0;
  for (int r = 0; r < size; ++r) {
    offsets[static_cast<size_t>(r)] = static_cast<int>(total);
    total += counts[static_cast<size_t>(r)];
  }
  LOOM_CHECK(total <= kMaxCount, "distributed: all_gather of {} bytes in all is too large", total);
  std::string all(static_cast<size_t>(total), '\0');
  check(MPI_Allgatherv(bytes.data(), mine, MPI_BYTE, all.data(), counts.data(), offsets.data(),
                       MPI_BYTE, MPI_COMM_WORLD),
        "MPI_Allgatherv");
  std::vector<std::string> out;
  for (int r = 0; r < size; ++r)
    out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                             static_cast<size_t>(counts[static_cast<size_t>(r)])));
  return out;
}

int64_t start_all_reduce(void* data, int64_t count, DType dtype) {
  LOOM_CHECK(count <= kMaxCount, "distributed: a reduction of {} elements is too large for one "
             "request; use smaller buckets", count);
  MPI_Request request;
  check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), mpi_type(dtype), MPI_SUM,
                       MPI_COMM_WORLD, &request),
        "MPI_Iallreduce");
  for (size_t i = 0; i < g_requests.size(); ++i)
    if (g_requests[i] == MPI_REQUEST_NULL) {
      g_requests[i] = request;
      return static_cast<int64_t>(i);
    }
  g_requests.push_back(request);
  return static_cast<int64_t>(g_requests.size() - 1);
}

bool test(int64_t request) {
  MPI_Request& r = g_requests.at(static_cast<size_t>(request));
  int done = 0;
  check(MPI_Test(&r, &done, MPI_STATUS_IGNORE), "MPI_Test");  // sets r to MPI_REQUEST_NULL when done
  return done != 0;
}

void wait(int64_t request) {
  check(MPI_Wait(&g_requests.at(static_cast<size_t>(request)), MPI_STATUS_IGNORE), "MPI_Wait");
}

void abort(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

}  // namespace loom::distributed::mpi
