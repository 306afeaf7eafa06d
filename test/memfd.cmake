# shmkit::Segment on the Linux memfd backend: served by its creator, attached over the socket.
# (The foundation's segment tests run on memfd too: see support/backends.hpp.)
if(NOT SHMKIT_PLATFORM STREQUAL "linux")
  return()
endif()

shmkit_add_helper(shmkit-test-memfd-helper helpers/memfd_helper.cpp)

shmkit_add_test(memfd_segment_test SOURCES integration/memfd_segment_test.cpp LABELS integration TIMEOUT 600
                HELPERS shmkit-test-memfd-helper)
# adopt_memfd: a segment handed over by fd inheritance, nobody serving it; fds that are not one.
shmkit_add_test(memfd_adopt_test SOURCES integration/memfd_adopt_test.cpp LABELS integration TIMEOUT 120
                HELPERS shmkit-test-memfd-helper)
# Writer-owned eventfds handed to channel readers (FD_REQUEST): epoll and Boost.Asio readers with
# no thread, kill -9 of the writer, a stalled reader, hostile requests, fork.
shmkit_add_helper(shmkit-test-eventfd-helper helpers/eventfd_helper.cpp)
shmkit_add_test(eventfd_test SOURCES integration/eventfd_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-test-eventfd-helper)
# The Asio example is one of that test's readers when it is built.
if(TARGET shmkit-example-asio-reader)
  add_dependencies(eventfd_test shmkit-example-asio-reader)
  target_compile_definitions(eventfd_test PRIVATE SHMKIT_ASIO_EXAMPLE="$<TARGET_FILE:shmkit-example-asio-reader>")
endif()
