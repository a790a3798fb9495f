// Which x86 instruction set the CPU kernels run with, chosen at run time.
//
// The reference backend's kernels (GEMM micro-kernel, RNN gate kernels,
// element-wise ops, reductions, softmax) and the optimizers' update loops
// are compiled once per instruction set (CMakeLists.txt: LOOM_CPU_ISAS), and
// the first kernel call picks one: the widest this CPU supports, or the one
// the environment variable LOOM_CPU_ISA names (auto, avx512, avx2,
// baseline). A build with LOOM_NATIVE=ON has one variant, "native", tuned
// for the machine that built it. oneDNN and cuDNN choose their own.
#pragma once

#include <string>
#include <vector>

namespace loom {

enum class CpuIsa {
  baseline,  // x86-64 (SSE2), or the compiler's default elsewhere (aarch64)
  avx2,      // x86-64-v3: AVX2, FMA, BMI2, F16C (Haswell and later)
  avx512,    // x86-64-v4: AVX-512 F/BW/CD/DQ/VL (Skylake-SP, Zen 4 and later)
  native,    // LOOM_NATIVE=ON: -march=native of the building machine
};

const char* cpu_isa_name(CpuIsa isa);
// The variants this build compiled, narrowest first.
std::vector<CpuIsa> built_cpu_isas();
// Whether this CPU (and its OS) can run the variant.
bool cpu_supports(CpuIsa isa);
// The variant the kernels use: LOOM_CPU_ISA if set (an error names the
// problem if the value is unknown, not built or not supported by this CPU),
// else the widest built variant this CPU supports. Read once per process.
CpuIsa active_cpu_isa();
// "avx2 (built: baseline avx2 avx512)": for --version and logs.
std::string cpu_isa_summary();

}  // namespace loom
