# Read-only is a type: what a SegmentView must not allow does not compile. Each test runs the
# compiler (syntax only) on one file of compile_fail/ through compile_fail/check_compile.cmake,
# which also checks the compiler names the right problem; view_allowed.cpp, the control, must
# compile with the same command line.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" OR CMAKE_CXX_COMPILER_FRONTEND_VARIANT STREQUAL "MSVC")
  message(STATUS "shmkit: compile-fail tests need a GCC-style compiler driver; not added")
  return()
endif()

# The include directories of target shmkit (source and generated headers) and of Boost, joined
# with '|' (a ';' would split the argument).
set(_shmkit_cf_includes
    "$<JOIN:$<TARGET_PROPERTY:shmkit,INTERFACE_INCLUDE_DIRECTORIES>,|>|$<JOIN:$<TARGET_PROPERTY:Boost::headers,INTERFACE_INCLUDE_DIRECTORIES>,|>")
list(JOIN CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES "|" _shmkit_cf_implicit)

# shmkit_compile_check(<test name> <source in compile_fail/> <error|success>)
function(shmkit_compile_check name source expect)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} "-DCXX=${CMAKE_CXX_COMPILER}" "-DFLAGS=${CMAKE_CXX_FLAGS}"
                   "-DSTD=${CMAKE_CXX_STANDARD}" "-DINCLUDES=${_shmkit_cf_includes}"
                   "-DIMPLICIT=${_shmkit_cf_implicit}" "-DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/${source}"
                   "-DEXPECT=${expect}" -P ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/check_compile.cmake)
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

shmkit_compile_check(compile_view_allowed view_allowed.cpp success)
shmkit_compile_check(compile_fail_view_lock_found_mutex view_lock_found_mutex.cpp error)
shmkit_compile_check(compile_fail_view_construct view_construct.cpp error)
shmkit_compile_check(compile_fail_view_allocator view_allocator.cpp error)
shmkit_compile_check(compile_fail_view_manager view_manager.cpp error)
