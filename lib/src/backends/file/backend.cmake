# The file backend: a memory-mapped regular file that survives restarts; the name is its path.
shmkit_backend(file ID 3
  DOC "a memory-mapped regular file that survives restarts, named by its path"
  SOURCES file_backend.cpp file_session_start.cpp
  SOURCES_posix file_mapping_posix.cpp
  SOURCES_windows file_mapping_windows.cpp)
