# cpack -G DEB (run in the build directory) makes loom-dev_<version>_<arch>.deb
# from the install rules: headers, libloom, the CMake package, pkg-config
# file and the example programs. Depends: lists the Debian packages whose
# headers and libraries Loom::loom pulls into a program that links it.
set(CPACK_PACKAGE_NAME loom-dev)
set(CPACK_PACKAGE_VENDOR "Loom")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Loom: train recurrent neural networks in C++ (library and headers)")
set(CPACK_PACKAGE_CONTACT "Loom developers <loom@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# fmt's headers and CMake package; OpenMP's runtime (libgomp, which g++
# brings with its omp.h); oneDNN's package, whose CMake files also need the
# OpenCL loader and headers (a Recommends of libdnnl-dev that
# --no-install-recommends skips).
set(LOOM_DEB_DEPENDS "libfmt-dev, libgomp1")
if(LOOM_WITH_ONEDNN)
  string(APPEND LOOM_DEB_DEPENDS ", libdnnl-dev, ocl-icd-opencl-dev")
endif()
if(LOOM_WITH_HDF5)
  string(APPEND LOOM_DEB_DEPENDS ", libhdf5-dev, libzip-dev")
endif()
if(LOOM_WITH_MPI)
  string(APPEND LOOM_DEB_DEPENDS ", libopenmpi-dev, openmpi-bin")
endif()
if(LOOM_WITH_CUDA)
  message(STATUS "cpack -G DEB: this build uses CUDA from /usr/local/cuda, which no "
                 "Debian package provides; the .deb will need it there as well.")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${LOOM_DEB_DEPENDS}")
# find_package(Loom) needs CMake 3.22 or newer and a C++20 compiler.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cmake (>= 3.22), g++ (>= 4:12)")
set(CPACK_GENERATOR DEB)
include(CPack)
