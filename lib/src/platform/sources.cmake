# The platform layer's sources for SHMKIT_PLATFORM (set in lib/CMakeLists.txt) and SHMKIT_OS.
set(_p ${CMAKE_CURRENT_LIST_DIR})
if(SHMKIT_PLATFORM STREQUAL "linux")
  set(SHMKIT_PLATFORM_SOURCES
    ${_p}/linux/futex_wait.cpp ${_p}/linux/asymmetric_fence.cpp ${_p}/linux/process_identity.cpp
    ${_p}/linux/native_sync.cpp ${_p}/linux/memory_advice.cpp ${_p}/linux/file_space.cpp ${_p}/linux/memory_budget.cpp ${_p}/linux/boot_id.cpp
    ${_p}/linux/event_signal.cpp ${_p}/linux/directory_watch.cpp ${_p}/posix/thread_exit.cpp ${_p}/posix/directory.cpp)
else()
  set(SHMKIT_PLATFORM_SOURCES
    ${_p}/portable/futex_wait.cpp ${_p}/portable/asymmetric_fence.cpp ${_p}/portable/native_sync.cpp
    ${_p}/portable/memory_advice.cpp ${_p}/portable/directory_watch.cpp ${_p}/portable/file_space.cpp ${_p}/portable/memory_budget.cpp ${_p}/portable/boot_id.cpp
    ${_p}/${SHMKIT_OS}/process_identity.cpp ${_p}/${SHMKIT_OS}/thread_exit.cpp)
  if(SHMKIT_OS STREQUAL "windows")
    list(APPEND SHMKIT_PLATFORM_SOURCES ${_p}/windows/windows_error.cpp)
  endif()
  if(SHMKIT_OS STREQUAL "posix")
    list(APPEND SHMKIT_PLATFORM_SOURCES ${_p}/posix/event_signal.cpp ${_p}/posix/directory.cpp)
  endif()
endif()
