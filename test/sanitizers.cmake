# Sanitizer builds (SHMKIT_SANITIZE): per-test tool options, and the few precise suppressions of
# tool limitations (each file says why). Included after every other part, so the tests exist.
if(SHMKIT_SANITIZE STREQUAL "address" AND TEST reliability_test)
  set_property(TEST reliability_test APPEND PROPERTY ENVIRONMENT
               "UBSAN_OPTIONS=print_stacktrace=1:suppressions=${CMAKE_CURRENT_SOURCE_DIR}/sanitizers/ubsan-fd-exhaustion.supp")
endif()
