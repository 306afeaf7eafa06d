# Semaphores, snapshots and the file backend (issue 8).
shmkit_add_helper(shmkit-test-persist-helper helpers/persist_helper.cpp)

shmkit_add_test(semaphore_test SOURCES unit/semaphore_test.cpp LABELS unit TIMEOUT 120)
if(NOT WIN32)  # forks to get the pid of a dead writer (platform_xproc_test covers Snapshot there)
  shmkit_add_test(snapshot_test SOURCES unit/snapshot_test.cpp LABELS unit TIMEOUT 120)
endif()
shmkit_add_test(persist_xproc_test SOURCES integration/persist_xproc_test.cpp LABELS integration TIMEOUT 600
                HELPERS shmkit-test-persist-helper)
shmkit_add_test(persist_file_test SOURCES integration/persist_file_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-test-persist-helper)
