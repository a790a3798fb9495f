// distributed/transport.h's mpi:: in a build without LOOM_WITH_MPI: a group
// of one process; joining a larger one says which option to turn on.
#include <cstdlib>

#include "loom/distributed/transport.h"

namespace loom::distributed::mpi {
namespace {
[[noreturn]] void unavailable(const char* what) {
  fail("distributed: {} needs MPI, but this Loom was built without it: reconfigure with "
       "-DLOOM_WITH_MPI=ON (apt-get install libopenmpi-dev openmpi-bin)",
       what);
}
}  // namespace

bool built() { return false; }
GroupInfo init() { unavailable("training with several processes (mpirun)"); }
void finalize() {}
void all_reduce(void*, int64_t, DType) { unavailable("all_reduce"); }
void broadcast(void*, int64_t, DType, int) { unavailable("broadcast"); }
void barrier() { unavailable("barrier"); }
std::vector<std::string> all_gather(const std::string&) { unavailable("all_gather"); }
int64_t start_all_reduce(void*, int64_t, DType) { unavailable("all_reduce"); }
bool test(int64_t) { unavailable("all_reduce"); }
void wait(int64_t) { unavailable("all_reduce"); }
void abort(int exit_code) { std::_Exit(exit_code); }

}  // namespace loom::distributed::mpi
