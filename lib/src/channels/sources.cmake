# The channel layer's sources: portable logic, plus the event-loop notifier (linux: eventfd;
# portable: a pipe on POSIX, none on Windows).
set(_c ${CMAKE_CURRENT_LIST_DIR})
if(SHMKIT_PLATFORM STREQUAL "linux")
  set(_notify linux)
else()
  set(_notify ${SHMKIT_OS})
endif()
set(SHMKIT_CHANNEL_SOURCES
  ${_c}/channel_broadcast.cpp ${_c}/channel_common.cpp ${_c}/channel_crc.cpp ${_c}/channel_queue.cpp
  ${_c}/channel_writer.cpp ${_c}/channel_notify_${_notify}.cpp)
