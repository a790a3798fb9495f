// Host memory for tensors. Large blocks (the 20000x128 embedding gradient,
// the RNN's saved gates) are allocated and freed at every training step;
// returned to the kernel each time, every step would page-fault through them
// again (~10% of an imdb-lstm step). Freed large blocks are therefore kept,
// keyed by size, and handed out again; small ones go straight to malloc.
#pragma once

#include <cstddef>

namespace loom {

// 64-byte aligned memory of at least `nbytes` (at least one byte). Returns
// nullptr when the system is out of memory.
void* cpu_allocate(size_t nbytes);
// Frees (or keeps for reuse) a block from cpu_allocate of that same `nbytes`.
void cpu_deallocate(void* p, size_t nbytes);

// Bytes held in the cache, and a way to give them back to the system.
size_t cpu_cached_bytes();
void cpu_empty_cache();

}  // namespace loom
