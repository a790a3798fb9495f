// Run-time choice of the CPU kernels' instruction-set variant (cpu_isa.h).
// CMake defines LOOM_ISA_BUILT_<VARIANT> for each variant it compiled.
#include "loom/backends/cpu_isa.h"

#include <cstdlib>
#include <string>

#include "loom/backends/types.h"

namespace loom {

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::baseline: return "baseline";
    case CpuIsa::avx2: return "avx2";
    case CpuIsa::avx512: return "avx512";
    case CpuIsa::native: return "native";
  }
  return "?";
}

std::vector<CpuIsa> built_cpu_isas() {
  std::vector<CpuIsa> built;
#ifdef LOOM_ISA_BUILT_BASELINE
  built.push_back(CpuIsa::baseline);
#endif
#ifdef LOOM_ISA_BUILT_AVX2
  built.push_back(CpuIsa::avx2);
#endif
#ifdef LOOM_ISA_BUILT_AVX512
  built.push_back(CpuIsa::avx512);
#endif
#ifdef LOOM_ISA_BUILT_NATIVE
  built.push_back(CpuIsa::native);
#endif
  return built;
}

bool cpu_supports(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::baseline:
    case CpuIsa::native:  // built for this machine by definition
      return true;
#if defined(__x86_64__) && defined(__clang__) && __clang_major__ < 16
    // clang before 16 (the fuzz build, cmake/LoomFuzz.cmake) knows no ISA
    // level names, only features; its AVX checks include the OS's saving of
    // the wide registers (XGETBV) too. F16C, LZCNT and MOVBE, which it cannot
    // name, come with AVX2 + BMI2 on every x86-64-v3 CPU.
    case CpuIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    case CpuIsa::avx512:
      return cpu_supports(CpuIsa::avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#elif defined(__x86_64__) && defined(__GNUC__)
    // The ISA levels check the OS's saving of the wide registers (XGETBV) too.
    case CpuIsa::avx2: return __builtin_cpu_supports("x86-64-v3");
    case CpuIsa::avx512: return __builtin_cpu_supports("x86-64-v4");
#else
    case CpuIsa::avx2:
    case CpuIsa::avx512: return false;
#endif
  }
  return false;
}

namespace {

std::string names(const std::vector<CpuIsa>& isas) {
  std::string s;
  for (CpuIsa isa : isas) s += std::string(s.empty() ? "" : " ") + cpu_isa_name(isa);
  return s;
}

CpuIsa choose_cpu_isa() {
  const std::vector<CpuIsa> built = built_cpu_isas();
  const char* env = std::getenv("LOOM_CPU_ISA");
  const std::string wanted = env ? env : "";
  if (wanted.empty() || wanted == "auto") {
    for (auto it = built.rbegin(); it != built.rend(); ++it)
      if (cpu_supports(*it)) return *it;
    fail("no CPU kernel variant of this build runs on this CPU (built: {})", names(built));
  }
  for (CpuIsa isa : built) {
    if (wanted != cpu_isa_name(isa)) continue;
    LOOM_CHECK(cpu_supports(isa),
               "LOOM_CPU_ISA={}: this CPU does not support it (the {} kernels would stop "
               "with an illegal instruction); supported here: {}",
               wanted, wanted, [&] {
                 std::vector<CpuIsa> ok;
                 for (CpuIsa b : built)
                   if (cpu_supports(b)) ok.push_back(b);
                 return names(ok);
               }());
    return isa;
  }
  fail("LOOM_CPU_ISA={}: not a kernel variant of this build; expected auto or one of: {}",
       wanted, names(built));
}

}  // namespace

CpuIsa active_cpu_isa() {
  static const CpuIsa active = choose_cpu_isa();
  return active;
}

std::string cpu_isa_summary() {
  return fmt::format("{} (built: {})", cpu_isa_name(active_cpu_isa()), names(built_cpu_isas()));
}

}  // namespace loom
