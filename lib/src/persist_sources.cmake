# Sources of semaphores, snapshots and the file backend (issue 8), included by lib/CMakeLists.txt.
set(SHMKIT_PERSIST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/semaphore.cpp
  ${CMAKE_CURRENT_LIST_DIR}/snapshot.cpp
  ${CMAKE_CURRENT_LIST_DIR}/portable/file_mapping.cpp  # POSIX: Linux, macOS, BSDs
)
# Waiting sleeps on the word-wait seam (word_wait.hpp) that the channel sources provide.
