# readme_snippets: every ```cpp block of README.md compiles warning-free and runs.
#   cmake -DEXTRACTOR=<tool> -DREADME=<README.md> -DCXX=<compiler> -DSTD=<20> -DINCLUDES=<dir|dir...>
#         -DLIBRARY=<libshmkit> -DWORK_DIR=<dir> [-DSANITIZE=<flags the library was built with>] -P run.cmake
# The extractor (extract_snippets.cpp) turns each block into a program; each is built with the
# warnings CI uses and run, with segment names made unique to this run.
cmake_minimum_required(VERSION 3.16)

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
string(RANDOM LENGTH 8 ALPHABET 0123456789abcdef suffix)
execute_process(COMMAND ${EXTRACTOR} ${README} ${WORK_DIR} "readme-${suffix}-"
                RESULT_VARIABLE rc OUTPUT_VARIABLE snippets ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "extracting the snippets of ${README} failed: ${err}")
endif()
string(STRIP "${snippets}" snippets)
string(REPLACE "\n" ";" snippets "${snippets}")

string(REPLACE "|" ";" includes "${INCLUDES}")
set(flags -std=c++${STD} -Wall -Wextra -Wpedantic -Werror -Wno-unused-variable -Wno-unused-but-set-variable)
# A sanitized library links only into sanitized programs; the snippets then run sanitized too.
separate_arguments(sanitize UNIX_COMMAND "${SANITIZE}")
list(APPEND flags ${sanitize})
foreach(dir IN LISTS includes)
  if(NOT dir STREQUAL "" AND NOT dir STREQUAL "/usr/include")
    list(APPEND flags "-I${dir}")
  endif()
endforeach()
list(REMOVE_DUPLICATES flags)

set(failed "")
list(LENGTH snippets n)
foreach(source IN LISTS snippets)
  get_filename_component(stem ${source} NAME_WE)
  set(program ${WORK_DIR}/${stem})
  execute_process(COMMAND ${CXX} ${flags} ${source} ${LIBRARY} -lpthread -lrt -o ${program}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    file(READ ${source} text)
    message("${stem} does not compile:\n${text}\n${out}")
    list(APPEND failed "${stem} (compile)")
    continue()
  endif()
  execute_process(COMMAND ${program} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 60)
  if(NOT rc EQUAL 0)
    file(READ ${source} text)
    message("${stem} failed when run (${rc}):\n${text}\n${out}")
    list(APPEND failed "${stem} (run)")
  else()
    message("${stem}: compiled and ran")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "README snippets that fail: ${failed}")
endif()
message("all ${n} README C++ snippets compile and run")
