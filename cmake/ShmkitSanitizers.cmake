# SHMKIT_SANITIZE=address builds everything with ASan+UBSan; =thread with TSan.
if(SHMKIT_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(SHMKIT_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ warns (-Wtsan) at every std::atomic_thread_fence, even in branches a TSan build never
    # takes (the seqlock copies use atomic words under TSan, channel_copy.hpp): not an error here.
    add_compile_options(-Wno-tsan)
  endif()
  add_link_options(-fsanitize=thread)
elseif(NOT SHMKIT_SANITIZE STREQUAL "")
  message(FATAL_ERROR "SHMKIT_SANITIZE must be '', 'address' or 'thread'")
endif()

# SHMKIT_FUZZ: libFuzzer targets (test/fuzz.cmake). Everything is built with coverage
# instrumentation (fuzzer-no-link) so the fuzzers see the library's branches; the ASan runtime
# provides the coverage callbacks for the ordinary test programs of the same build.
if(SHMKIT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SHMKIT_FUZZ needs clang (CXX=clang++); g++ builds replay the corpora instead")
  endif()
  if(NOT SHMKIT_SANITIZE STREQUAL "address")
    message(FATAL_ERROR "SHMKIT_FUZZ needs SHMKIT_SANITIZE=address")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
