# shmkit-bridge (apps/bridge) between two network namespaces joined by a veth pair: real
# processes, real DDS over a real (virtual) link, faults by link down/up and kill -9. Built and
# run only where the bridge is (Cyclone DDS found) on Linux; each test skips (exit 77, stating
# why) when it cannot make namespaces (not root, no `ip`).
if(WIN32 OR NOT CMAKE_SYSTEM_NAME STREQUAL "Linux" OR NOT TARGET shmkit-bridge)
  return()
endif()

shmkit_add_helper(shmkit-test-bridge-queue bridge/bridge_queue_tool.cpp)
add_executable(shmkit-test-bridge-inject bridge/bridge_inject.cpp)
target_link_libraries(shmkit-test-bridge-inject PRIVATE shmkit_bridge_dds)
shmkit_warnings(shmkit-test-bridge-inject)

foreach(scenario queue broadcast writer_kill faults malformed)
  add_test(NAME bridge_${scenario}_test
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bridge/bridge_netns_test.sh ${scenario}
                   ${PROJECT_BINARY_DIR}/bin $<TARGET_FILE:shmkit-test-bridge-queue> $<TARGET_FILE:shmkit-test-bridge-inject>)
  set_tests_properties(bridge_${scenario}_test PROPERTIES TIMEOUT 120 LABELS "bridge" SKIP_RETURN_CODE 77
                       RUN_SERIAL TRUE)
endforeach()
