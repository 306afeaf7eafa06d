# Type identity does not depend on the compiler: a program built with clang++ and one built with
# g++ share every container type the README and examples/ use (cross_compiler/run.cmake). Host
# builds with GCC only (the clang++ side links the GCC-built library); skipped without clang++.
if(CMAKE_CROSSCOMPILING OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU" OR NOT SHMKIT_PLATFORM STREQUAL "linux")
  return()
endif()
set(_shmkit_xcc_includes
    "$<JOIN:$<TARGET_PROPERTY:shmkit,INTERFACE_INCLUDE_DIRECTORIES>,|>|$<JOIN:$<TARGET_PROPERTY:Boost::headers,INTERFACE_INCLUDE_DIRECTORIES>,|>")
find_program(SHMKIT_CLANGXX NAMES clang++ clang++-16 clang++-15 clang++-14)
shmkit_add_helper(shmkit-test-types-program cross_compiler/types_program.cpp)
add_test(NAME cross_compiler_types
         COMMAND ${CMAKE_COMMAND} "-DCLANGXX=$<$<BOOL:${SHMKIT_CLANGXX}>:${SHMKIT_CLANGXX}>"
                 "-DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/cross_compiler/types_program.cpp"
                 "-DGCC_PROGRAM=$<TARGET_FILE:shmkit-test-types-program>" "-DLIBRARY=$<TARGET_FILE:shmkit>"
                 "-DINCLUDES=${_shmkit_xcc_includes}" "-DSTD=${CMAKE_CXX_STANDARD}"
                 "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/cross_compiler"
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/cross_compiler/run.cmake)
set_tests_properties(cross_compiler_types PROPERTIES LABELS integration TIMEOUT 300 SKIP_REGULAR_EXPRESSION "SKIPPED:")
