# Channels (issue 4): broadcast and queue rings, waits, liveness, CRC, layout validation.
# Every test runs on each backend of test_backends() (support/backends.hpp): every backend the
# build has, file included.
if(NOT WIN32)  # the helper sandboxes itself with seccomp; the cross-process tests read /proc/<pid>/stat
  shmkit_add_helper(shmkit-test-channel-helper helpers/channel_helper.cpp)
endif()

shmkit_add_test(channel_layout_test SOURCES unit/channel_layout_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(channel_crc_test SOURCES unit/channel_crc_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(frame_clock_test SOURCES unit/frame_clock_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(channel_broadcast_test SOURCES unit/channel_broadcast_test.cpp LABELS unit TIMEOUT 120)
shmkit_add_test(channel_lossless_test SOURCES unit/channel_lossless_test.cpp LABELS unit TIMEOUT 120)
shmkit_add_test(channel_queue_test SOURCES unit/channel_queue_test.cpp LABELS unit TIMEOUT 120)
shmkit_add_test(channel_typed_test SOURCES unit/channel_typed_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(channel_relay_test SOURCES unit/channel_relay_test.cpp LABELS unit TIMEOUT 60)
if(NOT WIN32)  # they run the channel helper (above)
  shmkit_add_test(channel_xproc_test SOURCES integration/channel_xproc_test.cpp LABELS integration TIMEOUT 180
                  HELPERS shmkit-test-channel-helper)
  shmkit_add_test(channel_stress_test SOURCES integration/channel_stress_test.cpp LABELS stress TIMEOUT 600
                  HELPERS shmkit-test-channel-helper)
endif()

# Hand-run latency/throughput/CRC self-check (not a test): build-chan/test/shmkit-channel-selfcheck
if(NOT WIN32)  # forks its writer and readers
  shmkit_add_helper(shmkit-channel-selfcheck tools/channel_selfcheck.cpp)
  find_package(ZLIB QUIET)  # only to measure zlib's crc32 next to the others; shmkit does not use it
  if(ZLIB_FOUND)
    target_link_libraries(shmkit-channel-selfcheck PRIVATE ZLIB::ZLIB)
    target_compile_definitions(shmkit-channel-selfcheck PRIVATE SHMKIT_SELFCHECK_ZLIB=1)
  endif()
endif()
shmkit_add_test(channel_checksum_test SOURCES unit/channel_checksum_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(channel_keepalive_test SOURCES unit/channel_keepalive_test.cpp LABELS unit TIMEOUT 60)
