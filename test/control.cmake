# Linux memfd backend platform layer and the control channel (Unix socket + SCM_RIGHTS).
if(NOT SHMKIT_PLATFORM STREQUAL "linux")
  return()
endif()

shmkit_add_helper(shmkit-test-control-helper helpers/control_helper.cpp)

shmkit_add_test(control_protocol_test SOURCES unit/control_protocol_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(control_memfd_test SOURCES unit/control_memfd_test.cpp LABELS unit TIMEOUT 60)
shmkit_add_test(control_client_test SOURCES unit/control_client_test.cpp LABELS unit TIMEOUT 120)
shmkit_add_test(control_server_test SOURCES integration/control_server_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-test-control-helper)
