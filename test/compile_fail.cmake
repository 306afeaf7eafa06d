# Read-only is a type: what a SegmentView must not allow does not compile; nor does constructing
# in a segment what cannot live there, or a typed channel read of such a type. Each test runs the
# compiler (syntax only) on one file of compile_fail/ through compile_fail/check_compile.cmake,
# which also checks the compiler names the right problem; view_allowed.cpp, the control, must
# compile with the same command line.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" OR CMAKE_CXX_COMPILER_FRONTEND_VARIANT STREQUAL "MSVC")
  message(STATUS "shmkit: compile-fail tests need a GCC-style compiler driver; not added")
  return()
endif()

# The include directories of target shmkit (source and generated headers) and of Boost, joined
# with '|' (a ';' would split the argument). Boost's are system directories, as in the build:
# its own deprecation warnings (mingw-w64's libstdc++) are not ours to fail on.
set(_shmkit_cf_includes "$<JOIN:$<TARGET_PROPERTY:shmkit,INTERFACE_INCLUDE_DIRECTORIES>,|>")
set(_shmkit_cf_system "$<JOIN:$<TARGET_PROPERTY:Boost::headers,INTERFACE_INCLUDE_DIRECTORIES>,|>")
list(JOIN CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES "|" _shmkit_cf_implicit)

# shmkit_compile_check(<test name> <source in compile_fail/> <error|success>)
function(shmkit_compile_check name source expect)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} "-DCXX=${CMAKE_CXX_COMPILER}" "-DFLAGS=${CMAKE_CXX_FLAGS}"
                   "-DSTD=${CMAKE_CXX_STANDARD}" "-DINCLUDES=${_shmkit_cf_includes}" "-DSYSTEM=${_shmkit_cf_system}"
                   "-DIMPLICIT=${_shmkit_cf_implicit}" "-DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/${source}"
                   "-DEXPECT=${expect}" -P ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/check_compile.cmake)
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

shmkit_compile_check(compile_view_allowed view_allowed.cpp success)
shmkit_compile_check(compile_fail_view_lock_found_mutex view_lock_found_mutex.cpp error)
shmkit_compile_check(compile_fail_view_construct view_construct.cpp error)
shmkit_compile_check(compile_fail_view_allocator view_allocator.cpp error)
shmkit_compile_check(compile_fail_view_manager view_manager.cpp error)
# What may live in a segment (shareable.hpp): construct_allowed.cpp is the control.
shmkit_compile_check(compile_construct_allowed construct_allowed.cpp success)
shmkit_compile_check(compile_fail_construct_std_string construct_std_string.cpp error)
shmkit_compile_check(compile_fail_construct_map_of_std_string construct_map_of_std_string.cpp error)
shmkit_compile_check(compile_fail_construct_vector_member construct_vector_member.cpp error)
shmkit_compile_check(compile_fail_typed_read_std_string typed_read_std_string.cpp error)

# The public options structs and the typed channel API, spelled as the docs spell them, compile
# warning-free with designated initializers under the flags CI uses.
add_test(NAME compile_options_designated
         COMMAND ${CMAKE_COMMAND} "-DCXX=${CMAKE_CXX_COMPILER}"
                 "-DFLAGS=${CMAKE_CXX_FLAGS} -Wall -Wextra -Wpedantic -Werror -Wmissing-field-initializers"
                 "-DSTD=${CMAKE_CXX_STANDARD}" "-DINCLUDES=${_shmkit_cf_includes}" "-DSYSTEM=${_shmkit_cf_system}"
                 "-DIMPLICIT=${_shmkit_cf_implicit}" "-DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/options_designated.cpp"
                 "-DEXPECT=success" -P ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/check_compile.cmake)
set_tests_properties(compile_options_designated PROPERTIES LABELS unit TIMEOUT 120)
