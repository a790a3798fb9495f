// loom_parity: runs recurrent-layer parity cases (format rnn-parity/1,
// docs/PARITY_FORMAT.md) through Loom and compares with the recorded
// reference results.
//
//   loom_parity [--backend NAME] [--dtype f32|f64] [--precision POLICY] [--quiet] FILE_OR_DIR...
//
// NAME is a CPU backend (reference, onednn) or cuda (the layer, inputs and
// cotangents move to cuda:0; results are compared on the host).
//
// Directories are searched recursively for *.json, each directory's files
// in sorted order. For every case: build the layer (optionally wrapped in
// Bidirectional), load its weights, run forward on inputs/mask/initial_state,
// and take the gradients of loss = sum_k <outputs[k], cotangents[k]> through
// the tape with respect to the inputs, the initial states and every weight.
// One line per case:
//   PASS name fwd=1.2e-07 (output 0) grad=3.4e-06 (weights.forward.kernel)
// Errors are max |loom - ref| / (1 + |ref|) over a tensor; a case passes when
// every forward error is <= 1e-5 and every gradient error <= 1e-4; with
// --precision mixed_bfloat16 or mixed_float16 (the products in bf16/f16,
// checked against the same f32 references) at the tolerances derived from
// the format in parity_case.h (mixed_forward_tolerance). A file
// that cannot be read or does not follow the format is a FAIL naming the
// file and the reason. Exit status 0 only when every case passed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "loom/loom.h"
#include "parity_case.h"

namespace fs = std::filesystem;
using namespace loom;
using namespace loom_parity;

namespace {

struct Options {
  std::string backend = "reference";
  DType dtype = DType::f32;
  DTypePolicy precision;  // float32, or a mixed policy: its compute dtype
  bool quiet = false;  // print FAIL lines and the summary only
  std::string require_cpu_isa;  // the CPU-kernel variant that must run (else skip, or fail)
  std::vector<std::string> paths;
};

// Case files under each path: a file as given, a directory's *.json
// recursively, sorted within each directory argument.
std::vector<std::string> collect(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".json")
          found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      if (found.empty()) fail("loom_parity: no *.json case files under {}", p);
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      files.push_back(p);
    } else {
      fail("loom_parity: {} does not exist", p);
    }
  }
  return files;
}

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: loom_parity [--backend NAME] [--dtype f32|f64] [--quiet]\n"
               "                   [--precision float32|mixed_bfloat16|mixed_float16]\n"
               "                   [--require-cpu-isa baseline|avx2|avx512|native] FILE_OR_DIR...\n"
               "Runs rnn-parity/1 case files (directories recursively) and prints one PASS/FAIL\n"
               "line per case; exit status 0 only when every case passes.\n"
               "--require-cpu-isa: the CPU kernels must be that variant (set LOOM_CPU_ISA);\n"
               "exits 77 (skipped) when this CPU cannot run it.\n");
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      LOOM_CHECK(i + 1 < argc, "loom_parity: {} needs a value", a);
      return argv[++i];
    };
    if (a == "--backend") {
      o.backend = value();
    } else if (a == "--dtype") {
      const std::string d = value();
      LOOM_CHECK(d == "f32" || d == "f64", "loom_parity: --dtype must be f32 or f64, got '{}'", d);
      o.dtype = d == "f32" ? DType::f32 : DType::f64;
    } else if (a == "--precision") {
      o.precision = DTypePolicy::parse(value());
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--require-cpu-isa") {
      o.require_cpu_isa = value();
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (a.rfind("--", 0) == 0) {
      fail("loom_parity: unknown option {}", a);
    } else {
      o.paths.push_back(a);
    }
  }
  LOOM_CHECK(!o.paths.empty(), "loom_parity: no case files or directories given");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "loom_parity")) return 0;
  Options opt;
  std::vector<std::string> files;
  try {
    opt = parse_args(argc, argv);
    if (opt.backend == "cuda") {
      LOOM_CHECK(cuda_built(), "loom_parity: --backend cuda, but this build has no CUDA backend "
                               "(configure with -DLOOM_WITH_CUDA=ON)");
      if (cuda_device_count() == 0) {
        std::printf("loom_parity: --backend cuda, but no CUDA device is visible: skipped\n");
        return 77;  // ctest's SKIP_RETURN_CODE
      }
      g_device = Device::cuda(0);
    } else {
      set_cpu_backend(opt.backend);
    }
    if (!opt.require_cpu_isa.empty()) {
      const std::vector<CpuIsa> built = built_cpu_isas();
      auto it = std::find_if(built.begin(), built.end(),
                             [&](CpuIsa b) { return opt.require_cpu_isa == cpu_isa_name(b); });
      LOOM_CHECK(it != built.end(), "loom_parity: --require-cpu-isa {}: not a variant of this build ({})",
                 opt.require_cpu_isa, cpu_isa_summary());
      if (!cpu_supports(*it)) {
        std::printf("loom_parity: this CPU cannot run the %s kernels: skipped\n",
                    opt.require_cpu_isa.c_str());
        return 77;  // ctest's SKIP_RETURN_CODE, as for a missing GPU
      }
      LOOM_CHECK(active_cpu_isa() == *it, "loom_parity: the CPU kernels are {}, not {} (set LOOM_CPU_ISA={})",
                 cpu_isa_name(active_cpu_isa()), opt.require_cpu_isa, opt.require_cpu_isa);
      std::printf("loom_parity: cpu kernels %s\n", cpu_isa_summary().c_str());
    }
    files = collect(opt.paths);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    usage(stderr);
    return 2;
  }

  int passed = 0, failed = 0;
  double largest_forward_error = 0;
  for (const std::string& f : files) {
    CaseResult r;
    std::string error;
    try {
      r = run_case(f, opt.dtype, opt.precision.compute);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      ++failed;
      // Case errors start with the file's path already; others get it added.
      if (error.rfind(f, 0) == 0)
        std::printf("FAIL %s\n", error.c_str());
      else
        std::printf("FAIL %s: %s\n", f.c_str(), error.c_str());
    } else {
      r.ok ? ++passed : ++failed;
      largest_forward_error = std::max(largest_forward_error, r.fwd.error);
      if (!r.ok || !opt.quiet) {
        std::printf("%s %s fwd=%.1e (%s) grad=%.1e (%s)%s", r.ok ? "PASS" : "FAIL", r.name.c_str(),
                    r.fwd.error, r.fwd.where.c_str(), r.grad.error, r.grad.where.c_str(),
                    r.forward_only ? " [gradients not judged: relu]" : "");
        if (!r.ok) {
          const Worst& w = r.fwd.error > r.fwd_tol || std::isnan(r.fwd.error) ? r.fwd : r.grad;
          std::printf("  worst %s", w.detail.c_str());
        }
        std::printf("\n");
      }
    }
    std::fflush(stdout);
  }
  // Under a mixed policy the products must really have been rounded: some
  // case then errs beyond f32's tolerance (bf16 by about 1e-3).
  if (opt.precision.mixed() && passed > 0 && !(largest_forward_error > kForwardTol)) {
    ++failed;
    std::printf("FAIL %s: no forward error above %.0e in any case: nothing was rounded\n",
                opt.precision.name.c_str(), kForwardTol);
  }
  std::printf("loom_parity: %d passed, %d failed of %zu (backend %s, %s, %s)\n", passed, failed,
              files.size(), opt.backend.c_str(), dtype_name(opt.dtype), opt.precision.name.c_str());
  return failed == 0 ? 0 : 1;
}
