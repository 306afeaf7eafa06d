# Fuzzing (issue 6). Every target in test/fuzz/ is built twice:
#  - always: shmkit-fuzz-replay-<target>, the target plus a tiny main that runs every file of its
#    committed corpus (test/fuzz/corpus/<target>/), registered as test fuzz_corpus_<target>
#    (label unit): the corpus is a regression suite in every build, g++ or clang;
#  - with -DSHMKIT_FUZZ=ON (clang, SHMKIT_SANITIZE=address): shmkit-fuzz-<target>, a libFuzzer
#    program in <build>/fuzz/. scripts/fuzz.sh runs them.
set(SHMKIT_FUZZ_TARGETS control_hello control_reply segment_header channel)
set(SHMKIT_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)

function(shmkit_fuzz_setup target)
  target_include_directories(${target} PRIVATE ${SHMKIT_INTERNAL_INCLUDES} ${SHMKIT_FUZZ_DIR})
  target_link_libraries(${target} PRIVATE shmkit::shmkit)
  shmkit_warnings(${target})
endfunction()

if(SHMKIT_PLATFORM STREQUAL "linux")
  foreach(t ${SHMKIT_FUZZ_TARGETS})
    add_executable(shmkit-fuzz-replay-${t} ${SHMKIT_FUZZ_DIR}/fuzz_${t}.cpp ${SHMKIT_FUZZ_DIR}/replay_main.cpp)
    shmkit_fuzz_setup(shmkit-fuzz-replay-${t})
    add_test(NAME fuzz_corpus_${t} COMMAND shmkit-fuzz-replay-${t} ${SHMKIT_FUZZ_DIR}/corpus/${t})
    set_tests_properties(fuzz_corpus_${t} PROPERTIES LABELS unit TIMEOUT 300)
    if(SHMKIT_FUZZ)
      add_executable(shmkit-fuzz-${t} ${SHMKIT_FUZZ_DIR}/fuzz_${t}.cpp)
      shmkit_fuzz_setup(shmkit-fuzz-${t})
      target_link_options(shmkit-fuzz-${t} PRIVATE -fsanitize=fuzzer)
      set_target_properties(shmkit-fuzz-${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
    endif()
  endforeach()
  # Regenerates the seed-* files of the corpora: shmkit-fuzz-seeds test/fuzz/corpus
  add_executable(shmkit-fuzz-seeds ${SHMKIT_FUZZ_DIR}/make_seeds.cpp)
  shmkit_fuzz_setup(shmkit-fuzz-seeds)
endif()
