// ref::kernels(): the table of the variant active_cpu_isa() chose. Compiled
// once, for the baseline; the tables it names are in each variant's objects
// (kernel_table.cpp), declared here under their namespaces.
#include "loom/backends/cpu_isa.h"
#include "loom/backends/reference/kernels.h"

namespace loom::ref {

#define LOOM_DECLARE_VARIANT(ns) \
  namespace ns {                 \
  const KernelTable& kernel_table(); \
  }
#ifdef LOOM_ISA_BUILT_BASELINE
LOOM_DECLARE_VARIANT(isa_baseline)
#endif
#ifdef LOOM_ISA_BUILT_AVX2
LOOM_DECLARE_VARIANT(isa_avx2)
#endif
#ifdef LOOM_ISA_BUILT_AVX512
LOOM_DECLARE_VARIANT(isa_avx512)
#endif
#ifdef LOOM_ISA_BUILT_NATIVE
LOOM_DECLARE_VARIANT(isa_native)
#endif
#undef LOOM_DECLARE_VARIANT

namespace {

const KernelTable& table_of(CpuIsa isa) {
  switch (isa) {
#ifdef LOOM_ISA_BUILT_BASELINE
    case CpuIsa::baseline: return isa_baseline::kernel_table();
#endif
#ifdef LOOM_ISA_BUILT_AVX2
    case CpuIsa::avx2: return isa_avx2::kernel_table();
#endif
#ifdef LOOM_ISA_BUILT_AVX512
    case CpuIsa::avx512: return isa_avx512::kernel_table();
#endif
#ifdef LOOM_ISA_BUILT_NATIVE
    case CpuIsa::native: return isa_native::kernel_table();
#endif
    default: break;
  }
  fail("CPU kernels: variant {} is not built", cpu_isa_name(isa));
}

}  // namespace

const KernelTable& kernels() {
  static const KernelTable& table = table_of(active_cpu_isa());
  return table;
}

}  // namespace loom::ref
