// The namespace that keeps each instruction-set variant of the CPU kernels
// apart. The kernel sources are compiled once per variant with
// LOOM_ISA_NS=isa_<variant> and that variant's -march (CMakeLists.txt), and
// every header they share opens `inline namespace LOOM_ISA_NS`, so each
// variant's functions, templates and inline helpers have names of their own.
// Without it the linker would keep one copy of, say, an inline AVX-512
// helper and call it from the baseline variant too: an illegal instruction
// on an older CPU. tests/backends/cpu_isa_symbols.sh checks the object files.
// Other files (tests, other backends) get the default name.
#pragma once

#ifndef LOOM_ISA_NS
#define LOOM_ISA_NS isa_default
#endif
