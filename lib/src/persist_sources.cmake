# Sources of semaphores, snapshots and the file backend (issue 8), included by lib/CMakeLists.txt.
set(SHMKIT_PERSIST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/semaphore.cpp
  ${CMAKE_CURRENT_LIST_DIR}/snapshot.cpp
  ${CMAKE_CURRENT_LIST_DIR}/portable/file_mapping.cpp  # POSIX: Linux, macOS, BSDs
)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  list(APPEND SHMKIT_PERSIST_SOURCES ${CMAKE_CURRENT_LIST_DIR}/linux/semaphore_wait.cpp)
else()
  list(APPEND SHMKIT_PERSIST_SOURCES ${CMAKE_CURRENT_LIST_DIR}/portable/semaphore_wait.cpp)
endif()
