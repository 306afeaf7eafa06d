# Smoke test of shmkit-bench: `--quick` must run every case to completion and produce sane
# data. No timing assertions (the machine may be loaded); see test/bench/check_bench.cmake.
if(NOT SHMKIT_BUILD_APPS OR NOT TARGET shmkit-bench)
  return()
endif()
# The bench's cases and goals are measured against Linux primitives (futex, memfd fd passing,
# eventfd, membarrier): it runs on the linux platform only.
if(NOT SHMKIT_PLATFORM STREQUAL "linux")
  return()
endif()
add_test(NAME bench_quick_smoke
         COMMAND ${CMAKE_COMMAND} -DBENCH=$<TARGET_FILE:shmkit-bench>
                 -DJSON=${CMAKE_CURRENT_BINARY_DIR}/bench_quick.json
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/bench/check_bench.cmake)
set_tests_properties(bench_quick_smoke PROPERTIES LABELS bench TIMEOUT 180 RUN_SERIAL TRUE)
