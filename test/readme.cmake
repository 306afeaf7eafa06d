# The README's C++ snippets compile and run as written (readme/run.cmake): every ```cpp block,
# whoever adds it. Host builds only (the snippets are built with this compiler and run here).
if(CMAKE_CROSSCOMPILING OR NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" OR NOT SHMKIT_PLATFORM STREQUAL "linux")
  return()
endif()
add_executable(shmkit-test-readme-extract readme/extract_snippets.cpp)
shmkit_warnings(shmkit-test-readme-extract)
set(_shmkit_readme_includes
    "$<JOIN:$<TARGET_PROPERTY:shmkit,INTERFACE_INCLUDE_DIRECTORIES>,|>|$<JOIN:$<TARGET_PROPERTY:Boost::headers,INTERFACE_INCLUDE_DIRECTORIES>,|>")
set(_shmkit_readme_sanitize "")
if(SHMKIT_SANITIZE STREQUAL "address")
  set(_shmkit_readme_sanitize "-fsanitize=address,undefined -fno-sanitize-recover=undefined")
elseif(SHMKIT_SANITIZE STREQUAL "thread")
  set(_shmkit_readme_sanitize "-fsanitize=thread")
endif()
add_test(NAME readme_snippets
         COMMAND ${CMAKE_COMMAND} "-DEXTRACTOR=$<TARGET_FILE:shmkit-test-readme-extract>"
                 "-DREADME=${PROJECT_SOURCE_DIR}/README.md" "-DCXX=${CMAKE_CXX_COMPILER}" "-DSTD=${CMAKE_CXX_STANDARD}"
                 "-DINCLUDES=${_shmkit_readme_includes}" "-DLIBRARY=$<TARGET_FILE:shmkit>" "-DSANITIZE=${_shmkit_readme_sanitize}"
                 "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/readme_snippets" -P ${CMAKE_CURRENT_SOURCE_DIR}/readme/run.cmake)
set_tests_properties(readme_snippets PROPERTIES LABELS integration TIMEOUT 600)
