// Shared by the fuzz targets: a check that aborts (the fuzzer then saves the input as a crash).
// Each target defines LLVMFuzzerTestOneInput; built with clang's -fsanitize=fuzzer it is a
// libFuzzer program, built with any compiler next to replay_main.cpp it replays a corpus.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define SHMKIT_FUZZ_CHECK(cond)                                                            \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
