# Linux-only sources (memfd, control channel, pthread robust sync, futex).
set(SHMKIT_LINUX_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/native_sync.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process_identity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memfd_mapping.cpp
  ${CMAKE_CURRENT_LIST_DIR}/control_protocol.cpp
  ${CMAKE_CURRENT_LIST_DIR}/control_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/control_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memfd_backend.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_advice.cpp
  ${CMAKE_CURRENT_LIST_DIR}/segment_directory.cpp
)
