# Several real processes on every platform set (linux, portable; POSIX or Windows) and backend:
# containers, Mutex, Condition, SharedMutex, Semaphore, queue and broadcast channels with blocking
# waits, Snapshot, and a holder killed while it holds a Mutex. Public API only.
shmkit_add_helper(shmkit-test-platform-helper helpers/platform_helper.cpp)
shmkit_add_test(platform_xproc_test SOURCES integration/platform_xproc_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-test-platform-helper)

# The two-process example runs as it is documented (a parent starting itself as the child).
if(TARGET shmkit-example-shared-map)
  add_test(NAME example_shared_map COMMAND shmkit-example-shared-map)
  set_tests_properties(example_shared_map PROPERTIES LABELS integration TIMEOUT 60)
endif()
