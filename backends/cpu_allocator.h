// Host memory for tensors and scratch buffers. Large blocks (the 20000x128 embedding gradient,
// the RNN's saved gates) are allocated and freed at every training step;
// returned to the kernel each time, every step would page-fault through them
// again (~10% of an imdb-lstm step). Freed large blocks are therefore kept,
// keyed by size, and handed out again; small ones go straight to malloc.
// Scratch buffers are kept too, apart from tensors' blocks (below).
#pragma once

#include <cstddef>

namespace loom {

// 64-byte aligned memory of at least `nbytes` (at least one byte). Returns
// nullptr when the system is out of memory.
void* cpu_allocate(size_t nbytes);
// Frees (or keeps for reuse) a block from cpu_allocate of that same `nbytes`.
void cpu_deallocate(void* p, size_t nbytes);

// Scratch memory (backends/buffer.h: a backend's workspaces and temporaries,
// allocated and freed at every call): the kept block that fits best, if one
// of at least `nbytes` and at most twice that is there, else a new one.
// Blocks of every size are kept, unlike tensors', in a free list of their
// own (the same few shapes come back at every training step; on oneDNN's
// imdb-lstm step this measured ~9% faster than fresh small allocations).
// *block_bytes receives the block's size, which cpu_deallocate_scratch needs.
void* cpu_allocate_scratch(size_t nbytes, size_t* block_bytes);
void cpu_deallocate_scratch(void* p, size_t block_bytes);

// Bytes held in the cache, and a way to give them back to the system.
size_t cpu_cached_bytes();
void cpu_empty_cache();

}  // namespace loom
