# Linux-only sources (memfd, control channel, pthread robust sync, futex).
set(SHMKIT_LINUX_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/native_sync.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process_identity.cpp
)
