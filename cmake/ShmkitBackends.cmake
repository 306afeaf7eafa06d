# shmkit_backend(): declares one segment backend, from its lib/src/backends/<name>/backend.cmake.
#
#   shmkit_backend(<name> ID <n> [AUTOMATIC] DOC <text>
#                  [PLATFORMS <platform>...]          # where it exists (default: everywhere)
#                  [SOURCES <file>...]                # always, where it exists
#                  [SOURCES_<platform or os> <file>...]  # linux / portable, posix / windows
#                  [UNAVAILABLE <why>] [UNAVAILABLE_SOURCES <file>...])  # where it does not
#
# ID is the number stored in segment headers (never reused). AUTOMATIC: Backend::automatic may
# pick it, in the order of SHMKIT_BACKENDS. The backend's sources define
# `const SegmentBackend& <name>_backend()` in shmkit::detail. Collected into the caller's scope:
# SHMKIT_BACKEND_SOURCES, SHMKIT_BACKEND_ENUMERATORS, SHMKIT_BACKEND_DECLS, SHMKIT_BACKEND_ENTRIES.
function(shmkit_backend name)
  cmake_parse_arguments(B "AUTOMATIC" "ID;DOC;UNAVAILABLE"
    "PLATFORMS;SOURCES;SOURCES_linux;SOURCES_portable;SOURCES_posix;SOURCES_windows;UNAVAILABLE_SOURCES" ${ARGN})
  if(NOT B_ID OR NOT B_DOC)
    message(FATAL_ERROR "shmkit_backend(${name}): ID and DOC are required")
  endif()
  set(dir ${CMAKE_CURRENT_LIST_DIR})
  if(NOT B_PLATFORMS OR SHMKIT_PLATFORM IN_LIST B_PLATFORMS)
    set(files ${B_SOURCES} ${B_SOURCES_${SHMKIT_PLATFORM}} ${B_SOURCES_${SHMKIT_OS}})
    string(APPEND SHMKIT_BACKEND_DECLS "const SegmentBackend& ${name}_backend();\n")
    set(entry "&${name}_backend(), \"\"")
  else()
    set(files ${B_UNAVAILABLE_SOURCES})
    set(entry "nullptr, \"${B_UNAVAILABLE}\"")
  endif()
  if(B_AUTOMATIC)
    set(automatic true)
  else()
    set(automatic false)
  endif()
  list(TRANSFORM files PREPEND ${dir}/)
  list(APPEND SHMKIT_BACKEND_SOURCES ${files})
  string(APPEND SHMKIT_BACKEND_ENUMERATORS "  ${name} = ${B_ID},  // ${B_DOC}\n")
  string(APPEND SHMKIT_BACKEND_ENTRIES "      {Backend::${name}, \"${name}\", ${automatic}, ${entry}},\n")
  foreach(v SHMKIT_BACKEND_SOURCES SHMKIT_BACKEND_ENUMERATORS SHMKIT_BACKEND_DECLS SHMKIT_BACKEND_ENTRIES)
    set(${v} "${${v}}" PARENT_SCOPE)
  endforeach()
endfunction()
