# End-to-end tests of the apps (real binaries from build/bin).
if(NOT SHMKIT_BUILD_APPS)
  return()
endif()
shmkit_add_test(apps_e2e_test SOURCES e2e/apps_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-writer shmkit-reader shmkit-inspect shmkit-test-persist-helper)
target_compile_definitions(apps_e2e_test PRIVATE SHMKIT_APPS_DIR="${PROJECT_BINARY_DIR}/bin")

# The Python reader (python/shmkit_reader.py, standard library only, written from docs/format.md
# and docs/protocol.md) against a live shmkit-writer, by name and over the memfd control socket.
if(SHMKIT_PLATFORM STREQUAL "linux" AND NOT CMAKE_CROSSCOMPILING)
  find_package(Python3 3.9 COMPONENTS Interpreter)  # socket.recv_fds
  if(Python3_Interpreter_FOUND)
    foreach(backend named memfd)
      add_test(NAME python_reader_${backend}
               COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/python/test_shmkit_reader.py
                       $<TARGET_FILE:shmkit-writer> ${backend})
      set_tests_properties(python_reader_${backend} PROPERTIES LABELS integration TIMEOUT 120)
      # A segment that grows while the reader has it mapped (format.md §3.1).
      add_test(NAME python_reader_growth_${backend}
               COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/python/test_shmkit_reader_growth.py
                       $<TARGET_FILE:shmkit-test-segment-helper> ${backend})
      set_tests_properties(python_reader_growth_${backend} PROPERTIES LABELS integration TIMEOUT 60)
    endforeach()
  else()
    message(STATUS "shmkit: no Python 3.9+ interpreter: the Python reader's tests are skipped")
  endif()
endif()
