# Sanitizer builds (SHMKIT_SANITIZE): per-test tool options, and the few precise suppressions of
# tool limitations (each file says why). Included after every other part, so the tests exist.
if(SHMKIT_SANITIZE STREQUAL "address" AND TEST reliability_test)
  set_property(TEST reliability_test APPEND PROPERTY ENVIRONMENT
               "UBSAN_OPTIONS=print_stacktrace=1:suppressions=${CMAKE_CURRENT_SOURCE_DIR}/sanitizers/ubsan-fd-exhaustion.supp")
endif()
if(SHMKIT_SANITIZE STREQUAL "address" AND TEST channel_stress_test)
  # ASan+UBSan runs the streams about 3x slower, and CI runs that build after four others: a
  # quarter of the frames (every check kept) finds the same memory errors within CI's budget.
  set_property(TEST channel_stress_test APPEND PROPERTY ENVIRONMENT "SHMKIT_STRESS_DIVISOR=4")
endif()
if(SHMKIT_SANITIZE STREQUAL "address" AND TEST segment_grow_kill_test)
  # The same for the grow kill rounds: 50 per backend under ASan+UBSan, 200 in every other build.
  set_property(TEST segment_grow_kill_test APPEND PROPERTY ENVIRONMENT "SHMKIT_STRESS_DIVISOR=4")
endif()
if(SHMKIT_SANITIZE STREQUAL "thread" AND TEST channel_stress_test)
  # TSan runs the 10 M-frame streams 20x slower than a normal build: a tenth of the frames
  # (1 M, every check kept) fits the test's timeout.
  set_property(TEST channel_stress_test APPEND PROPERTY ENVIRONMENT "SHMKIT_STRESS_DIVISOR=10")
endif()
