# Foundation: Segment API (named backend), containers, interprocess sync.
shmkit_add_helper(shmkit-test-segment-helper helpers/segment_helper.cpp)

shmkit_add_test(segment_xproc_test SOURCES integration/segment_xproc_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-test-segment-helper)
shmkit_add_test(segment_test SOURCES unit/segment_test.cpp LABELS unit TIMEOUT 120)
shmkit_add_test(segment_header_test SOURCES unit/segment_header_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(sync_test SOURCES unit/sync_test.cpp LABELS unit TIMEOUT 120)
