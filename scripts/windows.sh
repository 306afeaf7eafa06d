#!/usr/bin/env bash
# The Windows build: installs mingw-w64 and Wine if missing (sudo when not root), cross-builds
# the library, the tests and the examples for 64-bit Windows (cmake/toolchains/mingw-w64.cmake),
# and runs the tests under Wine; the cross-process tests start several Windows processes.
# Extra arguments go to ctest (e.g. -R platform_xproc, -L unit).
#
#   SHMKIT_WIN_BUILD_DIR   build directory (default: build-win)
#   SHMKIT_JOBS            parallel build jobs and tests (default: nproc)
#
# Wine runs on a private prefix in the build directory (<build>/wineprefix), never ~/.wine. One
# wineserver is started for the whole run, with its output away from CTest's pipes (the
# toolchain file says why), and stopped at the end however the script ends.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Boost's headers (header-only use), the posix-threads mingw-w64 compiler, and Wine.
shmkit_install_packages cmake make libboost-dev g++-mingw-w64-x86-64 wine64 wine
command -v wine >/dev/null || { echo "shmkit: wine is installed but not on PATH" >&2; exit 1; }

dir="${SHMKIT_WIN_BUILD_DIR:-$SHMKIT_ROOT/build-win}"
werror=OFF
[ -n "${CI:-}" ] && werror=ON  # CI keeps the tree warning-free, as scripts/lib.sh's shmkit_build

t0=$(date +%s)
cmake -S "$SHMKIT_ROOT" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$SHMKIT_ROOT/cmake/toolchains/mingw-w64.cmake" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMKIT_WERROR="$werror" -DSHMKIT_BUILD_TESTS=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SHMKIT_OPT_FLAGS" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SHMKIT_OPT_FLAGS"
cmake --build "$dir" --parallel "$SHMKIT_JOBS"
t1=$(date +%s)
echo "shmkit: windows configure + build: $((t1 - t0)) s"

export WINEPREFIX="$dir/wineprefix"
export WINEDEBUG=-all
mkdir -p "$WINEPREFIX"
stop_wine() { wineserver -k >/dev/null 2>&1 </dev/null || true; }
trap stop_wine EXIT
# Persistent (-p): stays until wineserver -k, so tests do not each pay Wine's start and linger.
wineserver -p >/dev/null 2>&1 </dev/null
# Creates the prefix on the first run (some seconds), then starts Wine's services once.
wine wineboot >/dev/null 2>&1 </dev/null || echo "shmkit: wineboot failed ($?); the tests will say more" >&2
t2=$(date +%s)
echo "shmkit: wine ready in $((t2 - t1)) s (WINEPREFIX=$WINEPREFIX)"

ctest --test-dir "$dir" --output-on-failure --parallel "$SHMKIT_JOBS" "$@"
echo "shmkit: windows tests: $(( $(date +%s) - t2 )) s"
