# Runs the C++ compiler on one source file (syntax only) and checks the outcome:
#   cmake -DCXX=<compiler> -DFLAGS=<flags> -DSTD=<20> -DINCLUDES=<dir|dir...> -DSYSTEM=<dir|dir...>
#         -DIMPLICIT=<dir|dir...>
#         -DSOURCE=<file> -DEXPECT=<error|success> -P check_compile.cmake
# EXPECT=success: the file must compile. EXPECT=error: it must fail, and the compiler's output must
# match the regular expression on the file's "// expect-error: <regex>" line, so a test cannot pass
# for a wrong reason (a missing header, a typo). INCLUDES are the include directories of target
# shmkit (generated headers included), SYSTEM those of Boost (-isystem); IMPLICIT the compiler's
# own, left out.
cmake_minimum_required(VERSION 3.16)

foreach(var CXX STD SOURCE EXPECT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_compile.cmake: -D${var}=... is required")
  endif()
endforeach()

string(REPLACE "|" ";" includes "${INCLUDES}")
string(REPLACE "|" ";" implicit "${IMPLICIT}")
separate_arguments(flags UNIX_COMMAND "${FLAGS}")
string(REPLACE "|" ";" system "${SYSTEM}")
foreach(dir IN LISTS includes)
  if(NOT dir STREQUAL "" AND NOT dir IN_LIST implicit)
    list(APPEND flags "-I${dir}")
  endif()
endforeach()
list(REMOVE_DUPLICATES flags)
list(REMOVE_DUPLICATES system)
foreach(dir IN LISTS system)
  if(NOT dir STREQUAL "" AND NOT dir IN_LIST implicit)
    list(APPEND flags "-isystem" "${dir}")
  endif()
endforeach()

# LC_ALL=C: plain ASCII quotes in the compiler's messages, whatever the user's locale.
execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C ${CXX} ${flags} -std=c++${STD} -fsyntax-only ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(JOIN " " shown ${CXX} ${flags} -std=c++${STD} -fsyntax-only ${SOURCE})
message("${shown}\n${out}")

if(EXPECT STREQUAL "success")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} must compile, but the compiler failed (${rc})")
  endif()
elseif(EXPECT STREQUAL "error")
  file(STRINGS ${SOURCE} expect_lines REGEX "^// expect-error: ")
  list(LENGTH expect_lines n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "${SOURCE} needs exactly one '// expect-error: <regex>' line")
  endif()
  string(REGEX REPLACE "^// expect-error: " "" expected "${expect_lines}")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled, but must not: the type no longer enforces what the file says")
  endif()
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "${SOURCE} failed to compile, but not with an error matching '${expected}'")
  endif()
  message("failed to compile as expected (matched '${expected}')")
else()
  message(FATAL_ERROR "EXPECT must be error or success, not '${EXPECT}'")
endif()
