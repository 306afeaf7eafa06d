# Foundation: Segment API, containers, interprocess sync, on every backend of test_backends()
# (support/backends.hpp).
shmkit_add_helper(shmkit-test-segment-helper helpers/segment_helper.cpp)

shmkit_add_test(segment_xproc_test SOURCES integration/segment_xproc_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-test-segment-helper)
shmkit_add_test(segment_test SOURCES unit/segment_test.cpp LABELS unit TIMEOUT 120)
shmkit_add_test(btree_map_test SOURCES unit/btree_map_test.cpp LABELS unit TIMEOUT 120)
shmkit_add_test(containers_std_test SOURCES unit/containers_std_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(type_name_test SOURCES unit/type_name_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(segment_header_test SOURCES unit/segment_header_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(object_directory_test SOURCES unit/object_directory_test.cpp LABELS unit TIMEOUT 60
                HELPERS shmkit-test-segment-helper)
shmkit_add_test(sync_test SOURCES unit/sync_test.cpp LABELS unit TIMEOUT 120)
if(NOT WIN32)  # forks its children (cheap, 200 rounds per primitive) and kills them with SIGKILL
  shmkit_add_test(sync_crash_test SOURCES integration/sync_crash_test.cpp LABELS integration TIMEOUT 300)
endif()

# Install into a scratch prefix and build an out-of-tree consumer against it (find_package and
# pkg-config), as a static library (this build) and as a shared one (a build of its own).
set(_consumer_kinds static shared)
if(CMAKE_CROSSCOMPILING)  # run.cmake builds with the host's default compiler and runs the result
  set(_consumer_kinds)
endif()
foreach(kind ${_consumer_kinds})
  if(kind STREQUAL "shared")
    set(shared ON)
  else()
    set(shared OFF)
  endif()
  add_test(NAME consumer_${kind}
           COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DBUILD_DIR=${PROJECT_BINARY_DIR}
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-${kind} -DSHARED=${shared}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run.cmake)
  set_tests_properties(consumer_${kind} PROPERTIES LABELS consumer TIMEOUT 900)
endforeach()
if(SHMKIT_PLATFORM STREQUAL "linux")
  shmkit_add_test(segment_directory_test SOURCES unit/segment_directory_test.cpp LABELS unit TIMEOUT 60)
endif()
if(NOT WIN32)  # reads /proc/self/pagemap, forks a child that drops privileges under a small RLIMIT_MEMLOCK
  shmkit_add_test(memory_advice_test SOURCES unit/memory_advice_test.cpp LABELS unit TIMEOUT 60)
endif()
shmkit_add_test(segment_grow_test SOURCES unit/segment_grow_test.cpp LABELS unit TIMEOUT 60)
if(NOT WIN32)  # Windows named sections and mapped files cannot grow: no backend to run them on
  shmkit_add_test(segment_grow_xproc_test SOURCES integration/segment_grow_xproc_test.cpp LABELS integration
                  TIMEOUT 300 HELPERS shmkit-test-segment-helper)
  # 200 helper processes per backend, each killed mid-grow: tens of seconds on a busy machine.
  shmkit_add_test(segment_grow_kill_test SOURCES integration/segment_grow_kill_test.cpp LABELS stress TIMEOUT 600
                  HELPERS shmkit-test-segment-helper)
endif()
