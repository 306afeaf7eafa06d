# Crash safety and hostile environments (issue 6): read-only views, stale named segments,
# resource limits. docs/reliability.md describes the failure model these tests pin down.
if(SHMKIT_PLATFORM STREQUAL "linux")
  shmkit_add_helper(shmkit-test-reliability-helper helpers/reliability_helper.cpp)
  shmkit_add_test(reliability_test SOURCES integration/reliability_test.cpp LABELS integration TIMEOUT 300
                  HELPERS shmkit-test-reliability-helper)
endif()
