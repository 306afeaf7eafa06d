# Foundation: Segment API (named backend), containers, interprocess sync.
shmkit_add_helper(shmkit-test-segment-helper helpers/segment_helper.cpp)

shmkit_add_test(segment_xproc_test SOURCES integration/segment_xproc_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-test-segment-helper)
