// distributed/transport.h's nccl:: in a build without LOOM_WITH_NCCL.
#include "loom/distributed/transport.h"

namespace loom::distributed::nccl {
namespace {
[[noreturn]] void unavailable() {
  fail("distributed: collectives on CUDA tensors need NCCL, but this Loom was built without it: "
       "reconfigure with -DLOOM_WITH_CUDA=ON -DLOOM_WITH_NCCL=ON (NCCL from the CUDA toolkit's "
       "folder, /usr/local/cuda), or move the tensors to the CPU");
}
}  // namespace

bool built() { return false; }
void all_reduce(void*, int64_t, DType, int, const GroupInfo&) { unavailable(); }
void broadcast(void*, int64_t, DType, int, int, const GroupInfo&) { unavailable(); }
void synchronize(int) {}
void finalize() {}

}  // namespace loom::distributed::nccl
