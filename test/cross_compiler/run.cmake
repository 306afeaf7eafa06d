# cross_compiler_types: programs built by g++ and by clang++ share one segment's objects.
#   cmake -DCLANGXX=<clang++ or empty> -DSOURCE=<types_program.cpp> -DGCC_PROGRAM=<built by CMake>
#         -DLIBRARY=<libshmkit> -DINCLUDES=<dir|dir...> -DSTD=<20> -DWORK_DIR=<dir> -P run.cmake
# Builds SOURCE with clang++ against the same library, then: g++ creates, clang++ checks; clang++
# creates, g++ checks. Prints "SKIPPED: ..." (the test's skip pattern) when clang++ is absent.
cmake_minimum_required(VERSION 3.16)

if(NOT CLANGXX)
  message("SKIPPED: clang++ is not installed (scripts/test.sh installs it), so there is no second compiler to test against")
  return()
endif()

string(REPLACE "|" ";" includes "${INCLUDES}")
set(flags -std=c++${STD} -O1)
foreach(dir IN LISTS includes)
  # The system directory stays implicit: -I/usr/include would break libstdc++'s #include_next.
  if(NOT dir STREQUAL "" AND NOT dir STREQUAL "/usr/include")
    list(APPEND flags "-I${dir}")
  endif()
endforeach()
list(REMOVE_DUPLICATES flags)
file(MAKE_DIRECTORY ${WORK_DIR})
set(clang_program ${WORK_DIR}/types_program_clang)
execute_process(COMMAND ${CLANGXX} ${flags} ${SOURCE} ${LIBRARY} -lpthread -lrt -o ${clang_program}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang++ could not build ${SOURCE} against ${LIBRARY}:\n${out}")
endif()

string(RANDOM LENGTH 8 ALPHABET 0123456789abcdef suffix)
set(segment "shmkit-xcc-${suffix}")
foreach(pair "${GCC_PROGRAM}|${clang_program}" "${clang_program}|${GCC_PROGRAM}")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 creator)
  list(GET pair 1 checker)
  execute_process(COMMAND ${creator} create ${segment} RESULT_VARIABLE rc_create OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${creator} create: ${out}")
  if(rc_create EQUAL 0)
    execute_process(COMMAND ${checker} check ${segment} RESULT_VARIABLE rc_check OUTPUT_VARIABLE out ERROR_VARIABLE out)
    message("${checker} check: ${out}")
  endif()
  execute_process(COMMAND ${creator} remove ${segment} OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc_create EQUAL 0 OR NOT rc_check EQUAL 0)
    message(FATAL_ERROR "objects made by ${creator} are not readable by ${checker}")
  endif()
endforeach()
message("both directions ok")
