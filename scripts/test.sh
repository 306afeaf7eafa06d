#!/usr/bin/env bash
# Installs missing Debian packages (sudo when not root), builds shmkit with its tests and runs
# every test through CTest. Extra arguments go to ctest (e.g. -L unit, -R segment) and limit the
# run to the first tier's build.
#
# Without arguments (the README's command, and CI) it runs every tier, fast first:
#   1. linux      g++, the Linux platform: the whole suite                        (build/)
#   2. portable   the library with only the portable platform (-DSHMKIT_PLATFORM=portable),
#                 the whole suite of that configuration                           (build-portable/)
#   3. boost-alt  the library and the unit suite against Debian's Boost 1.81 headers, unpacked
#                 beside the build (scripts/boost-alt.sh), never installed         (build-boost181/)
#   4. windows    mingw-w64 cross build of the library, tests and examples; the tests run under
#                 Wine in several Windows processes (scripts/windows.sh)          (build-win/)
#   5. sanitizers clang ASan+UBSan build of the suite and every libFuzzer target for
#                 SHMKIT_FUZZ_SECONDS (default 60) from the committed corpus        (build-asan/)
#   bridge        (after linux) shmkit-bridge between two network namespaces: the CTest label
#                 `bridge`, one test at a time, bounded to 4 minutes; the other tiers leave it
#                 out (its tests skip when not root)                               (build/)
# SHMKIT_TIERS="linux portable ..." runs a subset; SHMKIT_SANITIZERS=0 drops tier 5. TSan is a
# separate build (README, "Sanitizers").
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shmkit_install_test_packages

tiers="${SHMKIT_TIERS:-linux bridge portable boost-alt windows sanitizers}"
[ "${SHMKIT_SANITIZERS:-1}" != 0 ] || tiers="${tiers//sanitizers/}"
[ $# -eq 0 ] || tiers="linux"

tier_start() {
  tier_name="$1"
  tier_t0=$(date +%s)
  echo "== shmkit tier: $1"
}
tier_end() { echo "== shmkit tier: $tier_name done in $(( $(date +%s) - tier_t0 )) s"; }
has_tier() { [[ " $tiers " == *" $1 "* ]]; }

if has_tier linux; then
  tier_start linux
  shmkit_build -DSHMKIT_BUILD_TESTS=ON
  (cd "$SHMKIT_BUILD_DIR" && ctest --output-on-failure --parallel "$SHMKIT_JOBS" -LE bridge "$@")
  tier_end
fi

if has_tier bridge; then
  tier_start bridge
  [ -d "$SHMKIT_BUILD_DIR" ] || shmkit_build -DSHMKIT_BUILD_TESTS=ON
  (cd "$SHMKIT_BUILD_DIR" && timeout 240 ctest --output-on-failure -L bridge)
  tier_end
fi

if has_tier portable; then
  tier_start portable
  SHMKIT_BUILD_DIR="$SHMKIT_ROOT/build-portable" shmkit_build -DSHMKIT_BUILD_TESTS=ON -DSHMKIT_PLATFORM=portable
  (cd "$SHMKIT_ROOT/build-portable" && ctest --output-on-failure --parallel "$SHMKIT_JOBS" -LE bridge)
  tier_end
fi

if has_tier boost-alt; then
  tier_start boost-alt
  read -r boost_inc boost_lib < <(bash "$SHMKIT_ROOT/scripts/boost-alt.sh" | tail -n1)
  echo "shmkit: Boost headers from $boost_inc"
  dir="$SHMKIT_ROOT/build-boost181"
  werror=OFF
  [ -n "${CI:-}" ] && werror=ON
  cmake -S "$SHMKIT_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMKIT_WERROR="$werror" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SHMKIT_OPT_FLAGS" -DSHMKIT_BUILD_TESTS=ON -DSHMKIT_BUILD_APPS=OFF -DSHMKIT_BUILD_EXAMPLES=OFF \
    -DBoost_DIR="$boost_lib/cmake/Boost-1.81.0" -DBoost_NO_SYSTEM_PATHS=ON
  # The library and the unit suite only (each unit test's program has the test's name).
  mapfile -t unit_targets < <(cd "$dir" && ctest -N -L unit -E '^(fuzz_corpus|compile_)' |
                                sed -n 's/^ *Test *#[0-9]*: *//p')
  cmake --build "$dir" --parallel "$SHMKIT_JOBS" --target shmkit "${unit_targets[@]}"
  # Every object must have seen the 1.81 headers, none the system's.
  if grep -rq --include='*.d' ' /usr/include/boost/' "$dir"; then
    echo "shmkit: the boost-alt build used /usr/include/boost" >&2
    exit 1
  fi
  (cd "$dir" && ctest --output-on-failure --parallel "$SHMKIT_JOBS" -L unit -E '^(fuzz_corpus|compile_)')
  tier_end
fi

if has_tier windows; then
  tier_start windows
  bash "$SHMKIT_ROOT/scripts/windows.sh"
  tier_end
fi

if has_tier sanitizers; then
  tier_start sanitizers
  SHMKIT_BUILD_DIR="$SHMKIT_ROOT/build-asan" CC=clang CXX=clang++ \
    shmkit_build -DSHMKIT_BUILD_TESTS=ON -DSHMKIT_SANITIZE=address -DSHMKIT_FUZZ=ON
  (cd "$SHMKIT_ROOT/build-asan" &&
     ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
     ctest --output-on-failure --parallel "$SHMKIT_JOBS" -LE 'consumer|bench|bridge')
  SHMKIT_FUZZ_BUILD_DIR="$SHMKIT_ROOT/build-asan" bash "$SHMKIT_ROOT/scripts/fuzz.sh" "${SHMKIT_FUZZ_SECONDS:-60}"
  tier_end
fi
