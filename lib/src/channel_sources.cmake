# Channel sources (issue 4), included by lib/CMakeLists.txt.
# SHMKIT_CHANNEL_SOURCES: portable logic (plus, off Linux, the polling fallback of the wait seam).
# SHMKIT_CHANNEL_LINUX_SOURCES: the futex implementation of the wait seam, eventfd notification,
# membarrier for the asymmetric fences.
set(SHMKIT_CHANNEL_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/channel_broadcast.cpp
  ${CMAKE_CURRENT_LIST_DIR}/channel_common.cpp
  ${CMAKE_CURRENT_LIST_DIR}/channel_crc.cpp
  ${CMAKE_CURRENT_LIST_DIR}/channel_queue.cpp
  ${CMAKE_CURRENT_LIST_DIR}/channel_writer.cpp
)
set(SHMKIT_CHANNEL_LINUX_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/linux/futex_wait.cpp
  ${CMAKE_CURRENT_LIST_DIR}/linux/channel_notify.cpp
  ${CMAKE_CURRENT_LIST_DIR}/linux/asymmetric_fence.cpp
)
if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  list(APPEND SHMKIT_CHANNEL_SOURCES ${CMAKE_CURRENT_LIST_DIR}/portable/futex_wait.cpp
                                     ${CMAKE_CURRENT_LIST_DIR}/portable/channel_notify.cpp
                                     ${CMAKE_CURRENT_LIST_DIR}/portable/asymmetric_fence.cpp)
endif()
