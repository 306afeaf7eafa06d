# The memfd backend: an anonymous sealed memfd, handed to other processes over a Unix socket.
shmkit_backend(memfd ID 2 AUTOMATIC
  DOC "Linux: an anonymous sealed memfd, handed over a Unix socket (ControlServer), gone with its last process"
  PLATFORMS linux
  SOURCES memfd_backend.cpp memfd_mapping.cpp control_protocol.cpp control_server.cpp control_client.cpp
  UNAVAILABLE "it needs Linux (memfd_create, file seals, SCM_RIGHTS)"
  UNAVAILABLE_SOURCES memfd_unavailable.cpp)
