# Finds Loom's dependencies. Every requested dependency that is missing stops
# the configure step with a message saying which package provides it.

include(CheckCXXCompilerFlag)

# ---- CPU flags ------------------------------------------------------------------
set(LOOM_ARCH_FLAGS "")
if(LOOM_NATIVE)
  check_cxx_compiler_flag("-march=native" LOOM_HAS_MARCH_NATIVE)
  if(LOOM_HAS_MARCH_NATIVE)
    set(LOOM_ARCH_FLAGS -march=native)
  endif()
endif()

# ---- OpenMP (threads for the CPU kernels) ---------------------------------------------
find_package(OpenMP)
if(NOT OpenMP_CXX_FOUND)
  message(FATAL_ERROR "Loom needs OpenMP for its CPU kernels: install g++ (libgomp) "
                      "or libomp-dev.")
endif()

# ---- fmt ----------------------------------------------------------------------------------
find_package(fmt QUIET)
if(NOT fmt_FOUND)
  message(FATAL_ERROR "Loom needs {fmt}: apt-get install libfmt-dev "
                      "(scripts/test.sh installs it when run as root).")
endif()
if(LOOM_STATIC_DEPS)
  # Debian's libfmt-dev ships no libfmt.a: then fmt is compiled in, header-only.
  find_library(LOOM_FMT_STATIC NAMES libfmt.a)
  if(LOOM_FMT_STATIC)
    add_library(loom_fmt_static INTERFACE)
    target_link_libraries(loom_fmt_static INTERFACE ${LOOM_FMT_STATIC})
    target_include_directories(loom_fmt_static INTERFACE $<TARGET_PROPERTY:fmt::fmt,INTERFACE_INCLUDE_DIRECTORIES>)
    set(LOOM_FMT_TARGET loom_fmt_static)
  elseif(TARGET fmt::fmt-header-only)
    set(LOOM_FMT_TARGET fmt::fmt-header-only)
  else()
    message(FATAL_ERROR "LOOM_STATIC_DEPS=ON but neither libfmt.a nor fmt's header-only target "
                        "was found (apt-get install libfmt-dev).")
  endif()
else()
  set(LOOM_FMT_TARGET fmt::fmt)
endif()

# ---- GoogleTest ----------------------------------------------------------------------------
if(LOOM_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    message(FATAL_ERROR "Loom's tests need GoogleTest: apt-get install libgtest-dev googletest "
                        "(or configure with -DLOOM_BUILD_TESTS=OFF).")
  endif()
  # Debian ships static GoogleTest libraries, so the test binaries carry it.
  set(LOOM_GTEST_TARGETS GTest::gtest GTest::gtest_main)
endif()

# ---- oneDNN ------------------------------------------------------------------------------------
# LOOM_DNNL_TARGET: the library the oneDNN backend links. Found through
# oneDNN's CMake package (Debian's libdnnl-dev 2.x, or any install with
# lib/cmake/dnnl: -DDNNL_DIR=<that folder>), or, for an install without CMake
# files (PyPI's onednn-devel wheel unpacked), from -DONEDNN_ROOT=<prefix
# holding include/oneapi/dnnl/dnnl.hpp and lib/libdnnl.so>.
if(LOOM_WITH_ONEDNN)
  if(ONEDNN_ROOT)
    find_path(LOOM_DNNL_INCLUDE oneapi/dnnl/dnnl.hpp PATHS ${ONEDNN_ROOT}/include NO_DEFAULT_PATH)
    find_library(LOOM_DNNL_LIB dnnl PATHS ${ONEDNN_ROOT}/lib ${ONEDNN_ROOT}/lib64 NO_DEFAULT_PATH)
    if(NOT LOOM_DNNL_INCLUDE OR NOT LOOM_DNNL_LIB)
      message(FATAL_ERROR "LOOM_WITH_ONEDNN=ON: ONEDNN_ROOT=${ONEDNN_ROOT} has no "
                          "include/oneapi/dnnl/dnnl.hpp and lib/libdnnl.so.")
    endif()
    add_library(loom_dnnl INTERFACE)
    target_include_directories(loom_dnnl INTERFACE ${LOOM_DNNL_INCLUDE})
    target_link_libraries(loom_dnnl INTERFACE ${LOOM_DNNL_LIB})
    set(LOOM_DNNL_TARGET loom_dnnl)
    message(STATUS "oneDNN backend: ${LOOM_DNNL_LIB}")
  else()
    # -DDNNL_DIR (the spelling oneDNN's docs use) names the package folder;
    # CMake's own variable for package `dnnl` is dnnl_DIR.
    if(DNNL_DIR)
      set(dnnl_DIR "${DNNL_DIR}")
      find_package(dnnl CONFIG QUIET NO_DEFAULT_PATH PATHS "${DNNL_DIR}")
      if(NOT dnnl_FOUND)
        message(FATAL_ERROR "LOOM_WITH_ONEDNN=ON: no oneDNN CMake package (dnnl-config.cmake) "
                            "in DNNL_DIR=${DNNL_DIR}")
      endif()
    else()
      find_package(dnnl CONFIG QUIET)
    endif()
    if(NOT dnnl_FOUND)
      message(FATAL_ERROR "LOOM_WITH_ONEDNN=ON but oneDNN was not found: apt-get install "
                          "libdnnl-dev (scripts/deps.sh does it when run as root), point "
                          "-DDNNL_DIR at a oneDNN install's lib/cmake/dnnl, or -DONEDNN_ROOT "
                          "at a prefix with include/ and lib/; or configure with "
                          "-DLOOM_WITH_ONEDNN=OFF.")
    endif()
    set(LOOM_DNNL_TARGET DNNL::dnnl)
    message(STATUS "oneDNN backend: oneDNN ${dnnl_VERSION}")
  endif()
endif()

# ---- CUDA -----------------------------------------------------------------------------------------
if(LOOM_WITH_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "LOOM_WITH_CUDA=ON but no CUDA compiler was found "
                        "(expected /usr/local/cuda/bin/nvcc).")
  endif()
  # sm_80 (A100) and sm_90 (H100/H200) unless the caller chose; set before
  # enable_language so CMake does not probe for a GPU this machine may lack.
  if(NOT CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES "80;90")
  endif()
  set(LOOM_CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
  # C++17: nvcc 13 cannot compile fmt 9 (types.h) in C++20 mode.
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  enable_language(CUDA)
  find_package(CUDAToolkit QUIET)
  if(NOT CUDAToolkit_FOUND)
    message(FATAL_ERROR "LOOM_WITH_CUDA=ON but the CUDA toolkit (cuBLAS) was not found at /usr/local/cuda.")
  endif()
  find_path(LOOM_CUDNN_INCLUDE cudnn.h HINTS /usr/local/cuda/include /usr/include)
  find_library(LOOM_CUDNN_LIB cudnn HINTS /usr/local/cuda/lib64)
  if(NOT LOOM_CUDNN_INCLUDE OR NOT LOOM_CUDNN_LIB)
    message(FATAL_ERROR "LOOM_WITH_CUDA=ON but cuDNN 9 (cudnn.h, libcudnn) was not found under /usr/local/cuda.")
  endif()
  message(STATUS "CUDA backend: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, cuDNN ${LOOM_CUDNN_LIB}")
endif()

# ---- HDF5 and libzip (Keras model files) ------------------------------------------------------
# LOOM_HDF5_TARGET, LOOM_LIBZIP_TARGET: interface targets of Loom's own
# (loom_hdf5, loom_libzip) with the include folders and libraries found
# here. They are exported with Loom, as loom_dnnl is, so a program linking
# an installed Loom needs no search of its own, which matters because:
#  - FindHDF5 test-compiles a C file: it fails in a C++-only project such as
#    Loom's (C is enabled here for it) or a consumer's.
#  - Debian 12's libzip-dev ships a CMake package that names the zipcmp,
#    zipmerge and ziptool programs, which it does not install, so
#    find_package(libzip) stops the configure step; libzip is found through
#    its pkg-config file (or by name) instead.
if(LOOM_WITH_HDF5)
  enable_language(C)
  find_package(HDF5 COMPONENTS C QUIET)
  if(NOT HDF5_FOUND)
    message(FATAL_ERROR "LOOM_WITH_HDF5=ON but HDF5 was not found: apt-get install libhdf5-dev "
                        "(set HDF5_ROOT for another install), or configure with -DLOOM_WITH_HDF5=OFF.")
  endif()
  # A shared libhdf5 brings its own dependencies (zlib, szip, curl, ...);
  # a static one needs all of them on the link line.
  if(HDF5_C_LIBRARY_hdf5 MATCHES "\\.so")
    set(LOOM_HDF5_LIBRARIES ${HDF5_C_LIBRARY_hdf5})
  else()
    set(LOOM_HDF5_LIBRARIES ${HDF5_C_LIBRARIES})
  endif()
  add_library(loom_hdf5 INTERFACE)
  target_include_directories(loom_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(loom_hdf5 INTERFACE ${LOOM_HDF5_LIBRARIES})
  target_compile_definitions(loom_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
  set(LOOM_HDF5_TARGET loom_hdf5)

  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LOOM_PC_LIBZIP QUIET libzip)
  endif()
  find_path(LOOM_LIBZIP_INCLUDE zip.h HINTS ${LOOM_PC_LIBZIP_INCLUDE_DIRS})
  find_library(LOOM_LIBZIP_LIB zip HINTS ${LOOM_PC_LIBZIP_LIBRARY_DIRS})
  if(NOT LOOM_LIBZIP_INCLUDE OR NOT LOOM_LIBZIP_LIB)
    message(FATAL_ERROR "LOOM_WITH_HDF5=ON but libzip was not found (zip.h, libzip): apt-get "
                        "install libzip-dev, or configure with -DLOOM_WITH_HDF5=OFF.")
  endif()
  add_library(loom_libzip INTERFACE)
  # Not /usr/include itself: as an explicit -isystem it breaks #include_next in libstdc++.
  if(NOT LOOM_LIBZIP_INCLUDE IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    target_include_directories(loom_libzip INTERFACE ${LOOM_LIBZIP_INCLUDE})
  endif()
  target_link_libraries(loom_libzip INTERFACE ${LOOM_LIBZIP_LIB})
  set(LOOM_LIBZIP_TARGET loom_libzip)
  message(STATUS "Keras model files: HDF5 ${HDF5_VERSION} (${LOOM_HDF5_LIBRARIES}), libzip ${LOOM_LIBZIP_LIB}")
endif()

# ---- MPI and NCCL (data-parallel training, distributed/) ----------------------------------------
# LOOM_MPI_TARGET, LOOM_NCCL_TARGET: interface targets of Loom's own
# (loom_mpi, loom_nccl) with what was found here, exported with Loom like
# loom_hdf5, so a program linking an installed Loom needs no search of its
# own. Loom calls MPI's C API only (FindMPI's C component; C is enabled
# for it, as for HDF5).
if(LOOM_WITH_MPI)
  enable_language(C)
  find_package(MPI COMPONENTS C QUIET)
  if(NOT MPI_C_FOUND)
    message(FATAL_ERROR "LOOM_WITH_MPI=ON but MPI was not found: apt-get install libopenmpi-dev "
                        "openmpi-bin (set MPI_HOME for another MPI), or configure with -DLOOM_WITH_MPI=OFF.")
  endif()
  add_library(loom_mpi INTERFACE)
  target_include_directories(loom_mpi INTERFACE ${MPI_C_INCLUDE_DIRS})
  target_link_libraries(loom_mpi INTERFACE ${MPI_C_LIBRARIES})
  target_compile_definitions(loom_mpi INTERFACE ${MPI_C_COMPILE_DEFINITIONS})
  set(LOOM_MPI_TARGET loom_mpi)
  find_program(LOOM_MPIEXEC NAMES mpirun mpiexec HINTS ${MPIEXEC_EXECUTABLE})
  if(NOT LOOM_MPIEXEC)
    message(FATAL_ERROR "LOOM_WITH_MPI=ON but mpirun was not found: apt-get install openmpi-bin")
  endif()
  message(STATUS "MPI: ${MPI_C_LIBRARIES}, launcher ${LOOM_MPIEXEC}")
endif()
if(LOOM_WITH_NCCL)
  if(NOT LOOM_WITH_CUDA OR NOT LOOM_WITH_MPI)
    message(FATAL_ERROR "LOOM_WITH_NCCL=ON needs LOOM_WITH_CUDA=ON (device tensors) and "
                        "LOOM_WITH_MPI=ON (the process group that hands out NCCL's id).")
  endif()
  find_path(LOOM_NCCL_INCLUDE nccl.h HINTS /usr/local/cuda/include /usr/include)
  find_library(LOOM_NCCL_LIB nccl HINTS /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu)
  if(NOT LOOM_NCCL_INCLUDE OR NOT LOOM_NCCL_LIB)
    message(FATAL_ERROR "LOOM_WITH_NCCL=ON but NCCL (nccl.h, libnccl) was not found under "
                        "/usr/local/cuda; configure with -DLOOM_WITH_NCCL=OFF.")
  endif()
  add_library(loom_nccl INTERFACE)
  target_include_directories(loom_nccl INTERFACE ${LOOM_NCCL_INCLUDE})
  target_link_libraries(loom_nccl INTERFACE ${LOOM_NCCL_LIB})
  set(LOOM_NCCL_TARGET loom_nccl)
  message(STATUS "NCCL: ${LOOM_NCCL_LIB}")
endif()
