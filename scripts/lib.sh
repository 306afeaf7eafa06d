# Shared by scripts/demo.sh and scripts/test.sh: install what is missing, configure, build.
# Sourced, not run. Honours SHMKIT_BUILD_DIR (default: build) and SHMKIT_JOBS (default: nproc).
set -euo pipefail

SHMKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHMKIT_BUILD_DIR="${SHMKIT_BUILD_DIR:-$SHMKIT_ROOT/build}"
SHMKIT_JOBS="${SHMKIT_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# Debian packages shmkit needs to build (and, for scripts/test.sh, to test). Only missing ones
# are installed; nothing is removed or upgraded.
SHMKIT_PACKAGES=(g++ cmake make pkg-config libboost-dev libboost-test-dev libboost-program-options-dev)
# The ASan+UBSan build and the libFuzzer targets (scripts/test.sh) need clang and the compiler-rt
# runtimes of that clang's major version (libclang-rt-N-dev on Debian 12 and later).
SHMKIT_TEST_PACKAGES=(clang)
# shmkit-bridge is built when Cyclone DDS is found (idlc from cyclonedds-tools); its tests make
# network namespaces with iproute2's `ip`.
SHMKIT_TEST_PACKAGES+=(cyclonedds-dev cyclonedds-tools iproute2)

# shmkit_install_packages [package...]: the given ones (default SHMKIT_PACKAGES) that are missing.
shmkit_install_packages() {
  local missing=() p
  [ $# -gt 0 ] || set -- "${SHMKIT_PACKAGES[@]}"
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "shmkit: packages already installed: $*"
    return
  fi
  echo "shmkit: installing ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "shmkit: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# shmkit_install_test_packages: the build packages, clang, and clang's sanitizer runtimes.
shmkit_install_test_packages() {
  shmkit_install_packages "${SHMKIT_PACKAGES[@]}" "${SHMKIT_TEST_PACKAGES[@]}"
  local major
  major=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
  [ -n "$major" ] || { echo "shmkit: clang is installed but does not run" >&2; exit 1; }
  shmkit_install_packages "libclang-rt-$major-dev"
}

# The scripts' builds keep line tables only (-g1, clang's -gline-tables-only): backtraces and
# sanitizer reports still name files and lines, and the Boost-heavy test files compile in about
# half the time full debug info takes.
SHMKIT_OPT_FLAGS="-O2 -g1 -DNDEBUG"

# shmkit_build [extra cmake args...]
shmkit_build() {
  local werror=OFF
  [ -n "${CI:-}" ] && werror=ON  # CI keeps the tree warning-free
  cmake -S "$SHMKIT_ROOT" -B "$SHMKIT_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMKIT_WERROR="$werror" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SHMKIT_OPT_FLAGS" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SHMKIT_OPT_FLAGS" "$@"
  cmake --build "$SHMKIT_BUILD_DIR" --parallel "$SHMKIT_JOBS"
}
