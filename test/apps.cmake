# End-to-end tests of the apps (real binaries from build/bin).
if(NOT SHMKIT_BUILD_APPS)
  return()
endif()
shmkit_add_test(apps_e2e_test SOURCES e2e/apps_test.cpp LABELS integration TIMEOUT 300
                HELPERS shmkit-writer shmkit-reader shmkit-inspect)
target_compile_definitions(apps_e2e_test PRIVATE SHMKIT_APPS_DIR="${PROJECT_BINARY_DIR}/bin")
