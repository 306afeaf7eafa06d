# Chaos (issue 6): shmkit-chaos (apps/chaos) kills a writer and readers with SIGKILL at random
# moments for 20 s and checks frames, the map invariant, fds and leftovers. The hand-run
# version: build/bin/shmkit-chaos --duration 600 --readers 4
if(TARGET shmkit-chaos)
  add_test(NAME chaos_20s COMMAND shmkit-chaos --duration 20 --readers 3)
  set_tests_properties(chaos_20s PROPERTIES LABELS stress TIMEOUT 300)
endif()
