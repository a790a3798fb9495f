# Installs the Debian packages Loom's build, tests and demo need, when they
# are missing, and says which and why. Sourced by scripts/test.sh and
# scripts/demo.sh (and scripts/check_packages.sh reads the lists); not run
# on its own. Only packages a bare Debian 12 lacks are listed; each one's
# Depends come with it, its Recommends do not (--no-install-recommends),
# so anything needed from a Recommends is listed here itself.

# Compiling Loom: the compiler (with binutils' ld, objcopy and nm, which
# join each CPU-kernel variant), CMake, make, and {fmt}.
LOOM_BUILD_PACKAGES=(cmake g++ make binutils libfmt-dev)
# The test suite: GoogleTest and GoogleMock (static libraries and CMake
# files; libgmock-dev is not a Depends of libgtest-dev); qemu-user's
# qemu-x86_64 runs the portable programs on emulated Haswell (AVX2, no
# AVX-512) and baseline x86-64 CPUs.
LOOM_TEST_PACKAGES=(libgtest-dev libgmock-dev googletest qemu-user)
# The oneDNN CPU backend (LOOM_WITH_ONEDNN, ON in scripts/test.sh): oneDNN
# 2.x. Debian's dnnl-config.cmake calls find_package(OpenCL REQUIRED) (its
# oneDNN is built with the OpenCL runtime), but the OpenCL headers and
# loader are only a Recommends of libdnnl-dev.
LOOM_ONEDNN_PACKAGES=(libdnnl-dev ocl-icd-opencl-dev)
# Fuzzing (scripts/fuzz.sh, run by scripts/test.sh): clang with libFuzzer,
# and libomp-dev for clang's OpenMP (Loom's kernels use OpenMP).
# The sanitizer and fuzzer runtimes (libclang-rt-14-dev) are only a
# Recommends of clang's libclang-common-14-dev. GCC's own sanitizer runtimes
# (libasan8, libubsan1, libtsan2, for scripts/sanitizers.sh) come with g++.
LOOM_FUZZ_PACKAGES=(clang libclang-rt-14-dev libomp-dev)
# Keras model files (LOOM_WITH_HDF5, ON in scripts/test.sh): HDF5's C
# library for .h5, libzip for .keras archives (libzip is found through
# pkg-config). The Keras round-trip test makes a Python virtualenv
# (tests/layers/keras/gen/make_venv.sh) with Debian's python3 and its venv
# module, whose pip comes from python3-venv's ensurepip wheels.
LOOM_KERAS_PACKAGES=(libhdf5-dev libzip-dev pkg-config python3 python3-venv)
# Data-parallel training (LOOM_WITH_MPI, ON in scripts/test.sh): OpenMPI's
# headers and libraries, and mpirun, which the distributed tests launch.
# (libopenmpi-dev depends on openmpi-bin; both are named for clarity.)
LOOM_MPI_PACKAGES=(libopenmpi-dev openmpi-bin)
LOOM_DEBIAN_PACKAGES=("${LOOM_BUILD_PACKAGES[@]}" "${LOOM_TEST_PACKAGES[@]}" "${LOOM_ONEDNN_PACKAGES[@]}"
                      "${LOOM_FUZZ_PACKAGES[@]}" "${LOOM_KERAS_PACKAGES[@]}" "${LOOM_MPI_PACKAGES[@]}")

loom_install_deps() {
  local missing=()
  local pkg
  for pkg in "${LOOM_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "scripts/deps.sh: all of Loom's Debian packages are installed (${LOOM_DEBIAN_PACKAGES[*]})"
    return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    echo "scripts/deps.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" ||
      { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
  else
    echo "Loom needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
}
