# libFuzzer targets for every reader of user-supplied bytes (tests/fuzz/,
# run by scripts/fuzz.sh). Off by default; with LOOM_FUZZ=ON the whole
# library is compiled with coverage instrumentation, AddressSanitizer and
# UndefinedBehaviorSanitizer, so a fuzz build is a build of its own:
#
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DLOOM_FUZZ=ON -DLOOM_BUILD_TESTS=OFF \
#     -DCMAKE_LINKER=/usr/bin/ld
#   cmake --build build-fuzz --target loom_fuzz
#
# Included from CMakeLists.txt after the library and the sentiment targets
# are defined (it adds flags to them).
option(LOOM_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only; instruments the library)" OFF)
if(NOT LOOM_FUZZ)
  return()
endif()

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "LOOM_FUZZ=ON needs clang with libFuzzer (this compiler is "
                      "${CMAKE_CXX_COMPILER_ID}): apt-get install clang libclang-rt-14-dev libomp-dev, "
                      "then configure a fresh build directory with "
                      "CC=clang CXX=clang++ cmake -S . -B build-fuzz -DLOOM_FUZZ=ON -DCMAKE_LINKER=/usr/bin/ld")
endif()
# The CPU-kernel sealing step (cmake/seal_kernels.cmake) joins objects with
# GNU ld's -r --force-group-allocation, which LLVM's ld.lld (what CMake picks
# for clang when it is installed) lacks.
execute_process(COMMAND ${CMAKE_LINKER} --version OUTPUT_VARIABLE loom_linker_version ERROR_QUIET)
if(NOT loom_linker_version MATCHES "GNU ld")
  message(FATAL_ERROR "LOOM_FUZZ=ON: the CPU-kernel sealing step needs GNU ld, but CMAKE_LINKER is "
                      "${CMAKE_LINKER}: configure a fresh build directory (the compiler check caches the "
                      "linker) with -DCMAKE_LINKER=/usr/bin/ld (apt-get install binutils)")
endif()
if(LOOM_BUILD_SHARED)
  message(FATAL_ERROR "LOOM_FUZZ=ON links the fuzz targets statically: configure with LOOM_BUILD_SHARED=OFF")
endif()

# -fno-sanitize-recover: the first undefined behaviour aborts, so libFuzzer
# reports it as a crash with its input instead of a log line.
set(LOOM_FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
# Every object of libloom (the per-ISA CPU kernels too: their sealing step
# joins and renames objects, which instrumentation does not disturb) and of
# the sentiment application. fuzzer-no-link: coverage counters without
# libFuzzer's main, which only the fuzz targets link.
set(LOOM_FUZZ_LIBRARY_TARGETS loom_backends loom_autograd loom_optim loom_layers loom_sentiment)
foreach(isa ${LOOM_CPU_ISAS})
  list(APPEND LOOM_FUZZ_LIBRARY_TARGETS loom_kernels_${isa})
endforeach()
foreach(target ${LOOM_FUZZ_LIBRARY_TARGETS})
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link ${LOOM_FUZZ_SANITIZERS})
endforeach()
# Anything linking the instrumented libloom (the example programs too)
# needs the sanitizer runtimes.
target_link_options(loom INTERFACE -fsanitize=address,undefined)

# One program per input kind: tests/fuzz/fuzz_<name>.cpp, its seed corpus
# tests/fuzz/corpus/<name>/ and, where the format has keywords,
# tests/fuzz/<name>.dict.
set(LOOM_FUZZ_TARGETS
  table            # read_table / read_csv / read_tsv, RecordReader
  imdb             # read_imdb and its per-file parsing (read_imdb_review)
  text             # UTF-8 helpers, TextVectorization (adapt, encode, from_string)
  checkpoint       # read_checkpoint, load_model, SentimentClassifier::load
  json             # Json::parse, Model::from_json
  parity           # the parity-case reader of tests/parity/loom_parity.cpp
  predict_cli      # predict_sentiment's flags and text input (sentiment_cli)
  keras_config     # Keras model configs (layers/keras/keras_config.h)
)
set(LOOM_FUZZ_SOURCES_table tests/fuzz/fuzz_table.cpp)
set(LOOM_FUZZ_SOURCES_imdb tests/fuzz/fuzz_imdb.cpp)
set(LOOM_FUZZ_SOURCES_text tests/fuzz/fuzz_text.cpp)
set(LOOM_FUZZ_SOURCES_checkpoint tests/fuzz/fuzz_checkpoint.cpp)
set(LOOM_FUZZ_SOURCES_json tests/fuzz/fuzz_json.cpp)
set(LOOM_FUZZ_SOURCES_parity tests/fuzz/fuzz_parity.cpp)
set(LOOM_FUZZ_SOURCES_predict_cli tests/fuzz/fuzz_predict_cli.cpp)
set(LOOM_FUZZ_SOURCES_keras_config tests/fuzz/fuzz_keras_config.cpp)

add_custom_target(loom_fuzz)
foreach(name ${LOOM_FUZZ_TARGETS})
  add_executable(fuzz_${name} ${LOOM_FUZZ_SOURCES_${name}})
  target_link_libraries(fuzz_${name} PRIVATE loom_sentiment)
  target_include_directories(fuzz_${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/tests/fuzz
                                                  ${CMAKE_CURRENT_SOURCE_DIR}/tests/parity)
  target_compile_options(fuzz_${name} PRIVATE -Wall -Wextra -Wno-unused-parameter
                         -fsanitize=fuzzer ${LOOM_FUZZ_SANITIZERS})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  add_dependencies(loom_fuzz fuzz_${name})
endforeach()
