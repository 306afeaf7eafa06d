# Chaos (issue 6): shmkit-chaos (apps/chaos) kills a writer and readers with SIGKILL at random
# moments for 20 s and checks frames, the map invariant, fds and leftovers. The hand-run
# version: build/bin/shmkit-chaos --duration 600 --readers 4
if(TARGET shmkit-chaos)
  add_test(NAME chaos_20s COMMAND shmkit-chaos --duration 20 --readers 3)
  set_tests_properties(chaos_20s PROPERTIES LABELS stress TIMEOUT 300)
endif()
# The demo apps as untrusted peers (shmkit-chaos --demo): readers stalled on full pipes, one
# stopped, --set readers killed at random; the writer keeps 90 % of its paced rate and ends on SIGTERM.
if(TARGET shmkit-chaos AND TARGET shmkit-writer AND TARGET shmkit-reader)
  add_test(NAME chaos_demo_10s COMMAND shmkit-chaos --demo --duration 10)
  set_tests_properties(chaos_demo_10s PROPERTIES LABELS stress TIMEOUT 120)
endif()
