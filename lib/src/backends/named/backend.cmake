# The named backend: a named shared-memory object, opened by name, on every platform.
shmkit_backend(named ID 1 AUTOMATIC
  DOC "a named shared-memory object (POSIX shm_open, or Windows native and kernel-refcounted), opened by name"
  SOURCES named_backend.cpp
  SOURCES_posix named_mapping_posix.cpp
  SOURCES_windows named_mapping_windows.cpp
  SOURCES_linux named_directory_linux.cpp
  SOURCES_portable named_directory_portable.cpp)
