# Joins one instruction-set variant's kernel objects into one object and
# renames every symbol it defines, except that variant's kernel_table(), to
# <name>.loom_isa_<variant>. The variants share inline functions and
# templates (std::, fmt::, loom::fail, ...) each compiled for its own CPU;
# left with their common names, the linker would keep one copy for all
# variants and, say, the baseline kernels could call an AVX-512 copy.
# Renamed, every variant calls only its own code.
#
#   cmake -DLINKER=ld -DOBJCOPY=objcopy -DNM=nm -DISA=avx2 -DOUTPUT=out.o
#         "-DOBJECTS=a.o|b.o" -P seal_kernels.cmake
string(REPLACE "|" ";" objects "${OBJECTS}")
set(joined "${OUTPUT}.joined.o")
# --force-group-allocation dissolves the COMDAT groups: the linker keeps one
# member of each group by the group's name, which the renaming below cannot
# change (a constructor's group is named after none of its symbols), so a
# variant's renamed copy would otherwise be dropped for another object's.
execute_process(COMMAND ${LINKER} -r --force-group-allocation -o ${joined} ${objects}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "seal_kernels: '${LINKER} -r' failed for the ${ISA} kernels")
endif()
execute_process(COMMAND ${NM} --defined-only --extern-only --format=posix ${joined}
                OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "seal_kernels: '${NM}' failed on ${joined}")
endif()
string(REPLACE "\n" ";" lines "${symbols}")
set(renames "")
set(kept 0)
foreach(line ${lines})
  string(REGEX MATCH "^[^ ]+" name "${line}")
  if(name STREQUAL "")
    continue()
  endif()
  if(name MATCHES "isa_${ISA}12kernel_tableEv$")
    math(EXPR kept "${kept} + 1")
    continue()
  endif()
  string(APPEND renames "${name} ${name}.loom_isa_${ISA}\n")
endforeach()
if(NOT kept EQUAL 1)
  message(FATAL_ERROR "seal_kernels: the ${ISA} objects define no loom::ref::isa_${ISA}::kernel_table()")
endif()
file(WRITE "${OUTPUT}.renames" "${renames}")
execute_process(COMMAND ${OBJCOPY} --redefine-syms=${OUTPUT}.renames ${joined} ${OUTPUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "seal_kernels: '${OBJCOPY} --redefine-syms' failed for the ${ISA} kernels")
endif()
