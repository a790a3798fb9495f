// loom::version(): compiled into the library, so it reports the library a
// program linked even when the program was built against other headers.
// It lives in the lowest folder so that every folder can name it.
#include "loom/version.h"

#include <cstdio>
#include <cstring>

#include "loom/backends/cpu_isa.h"
#include "loom/backends/registry.h"
#include "loom/backends/types.h"

namespace loom {

const char* version() { return LOOM_VERSION_STRING; }

Version version_numbers() { return {LOOM_VERSION_MAJOR, LOOM_VERSION_MINOR, LOOM_VERSION_PATCH}; }

std::string version_banner(const char* program) {
  std::string backends;
  for (const std::string& name : available_backends())
    backends += (backends.empty() ? "" : " ") + name;
  std::string isa;
  try {
    isa = cpu_isa_summary();
  } catch (const Error& e) {
    isa = e.what();  // an unusable LOOM_CPU_ISA: say so rather than fail --version
  }
  return fmt::format("{} (Loom {})\nbackends: {}\ncpu kernels: {}\n", program, version(), backends,
                     isa);
}

bool print_version_if_requested(int argc, char** argv, const char* program) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") != 0) continue;
    std::fputs(version_banner(program).c_str(), stdout);
    return true;
  }
  return false;
}

}  // namespace loom
