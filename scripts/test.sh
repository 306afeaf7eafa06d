#!/usr/bin/env bash
# Installs missing Debian packages (sudo when not root), builds shmkit with its tests and runs
# every test through CTest. Extra arguments go to ctest (e.g. -L unit, -R segment) and limit the
# run to that normal build.
# Without arguments (the README's command, and CI) it then also
#  - builds the suite with clang, ASan+UBSan and the libFuzzer targets in build-asan and runs it
#    there (labels consumer and bench excluded: they test installation and speed, not memory);
#  - runs each fuzzer for SHMKIT_FUZZ_SECONDS (default 60) from the committed corpus.
# SHMKIT_SANITIZERS=0 skips both. TSan is a separate build (README, "Sanitizers").
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shmkit_install_test_packages
shmkit_build -DSHMKIT_BUILD_TESTS=ON
(cd "$SHMKIT_BUILD_DIR" && ctest --output-on-failure --parallel "$SHMKIT_JOBS" "$@")

if [ $# -eq 0 ] && [ "${SHMKIT_SANITIZERS:-1}" != 0 ]; then
  echo "shmkit: ASan+UBSan build (clang) with the fuzz targets"
  SHMKIT_BUILD_DIR="$SHMKIT_ROOT/build-asan" CC=clang CXX=clang++ \
    shmkit_build -DSHMKIT_BUILD_TESTS=ON -DSHMKIT_SANITIZE=address -DSHMKIT_FUZZ=ON
  (cd "$SHMKIT_ROOT/build-asan" &&
     ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
     ctest --output-on-failure --parallel "$SHMKIT_JOBS" -LE 'consumer|bench')
  SHMKIT_FUZZ_BUILD_DIR="$SHMKIT_ROOT/build-asan" bash "$SHMKIT_ROOT/scripts/fuzz.sh" "${SHMKIT_FUZZ_SECONDS:-60}"
fi
