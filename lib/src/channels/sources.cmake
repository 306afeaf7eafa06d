# The channel layer's sources: portable logic, plus the event-loop notifier (over the platform's
# EventSignal on POSIX; none on Windows).
set(_c ${CMAKE_CURRENT_LIST_DIR})
if(SHMKIT_OS STREQUAL "windows")
  set(_notify channel_notify_windows)
else()
  set(_notify channel_notify)
endif()
set(SHMKIT_CHANNEL_SOURCES
  ${_c}/channel_broadcast.cpp ${_c}/channel_common.cpp ${_c}/channel_crc.cpp ${_c}/channel_queue.cpp
  ${_c}/channel_typed.cpp ${_c}/channel_writer.cpp ${_c}/${_notify}.cpp)
