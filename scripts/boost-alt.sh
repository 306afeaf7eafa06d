#!/usr/bin/env bash
# scripts/boost-alt.sh [ROOT]: a second Boost (Debian's 1.81 by default) unpacked under ROOT,
# never installed: `apt-get download` + `dpkg-deb -x`, so /usr/include keeps the default Boost.
# For building and unit-testing shmkit against another Boost than the system one.
#
#   ROOT                default: <repo>/build-boost181/root (build*/ is git-ignored)
#   BOOST_ALT_VERSION   default: 1.81 (Debian package series libboost<V>-dev)
#
# Packages: libboost<V>-dev (all headers, BoostConfig and Boost::headers), libboost-test<V>-dev
# (Boost::unit_test_framework's CMake config and the .so link) and libboost-test<V>.0 (the .so
# itself). Nothing else: the library is header-only Boost; only the test suites link Boost.Test.
#
# Idempotent: once ROOT holds a complete tree (ROOT/.boost-alt-complete), it prints the dirs and
# touches neither the network nor apt. A half-unpacked tree is never left under ROOT: packages
# are unpacked beside it and renamed into place at the end. Runs `apt-get update` only when apt
# does not know the packages (a fresh machine), as root or through sudo.
#
# Progress goes to stderr. The last line on stdout is "<include dir> <lib dir>", e.g.
#   read -r inc lib < <(scripts/boost-alt.sh | tail -n1)
#   cmake ... -DBoost_DIR="$lib/cmake/Boost-1.81.0" -DBoost_NO_SYSTEM_PATHS=ON
# (BoostConfig is relocatable: it derives the include and lib dirs from its own location.)
# The lib dir holds libboost_unit_test_framework.so.<V>.0; CMake's build RPATH finds it, and
# LD_LIBRARY_PATH="$lib" serves anything else.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${BOOST_ALT_VERSION:-1.81}"
root="${1:-$repo_root/build-boost${version//./}/root}"
packages=("libboost${version}-dev" "libboost-test${version}-dev" "libboost-test${version}.0")

multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || true)"
[ -n "$multiarch" ] || multiarch="$(uname -m)-linux-gnu"

log() { echo "boost-alt: $*" >&2; }

mkdir -p "$(dirname "$root")"
root="$(cd "$(dirname "$root")" && pwd)/$(basename "$root")"
inc="$root/usr/include"
lib="$root/usr/lib/$multiarch"
stamp="$root/.boost-alt-complete"
want_lib_version="${version//./_}"  # BOOST_LIB_VERSION, e.g. "1_81"

lib_version_of() {  # the BOOST_LIB_VERSION in <dir>/boost/version.hpp, or nothing
  sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' "$1/boost/version.hpp" 2>/dev/null || true
}

if [ -f "$stamp" ] && [ "$(lib_version_of "$inc")" = "$want_lib_version" ]; then
  log "Boost $version already unpacked in $root"
  echo "$inc $lib"
  exit 0
fi

# Only a tree of ours is ever replaced: one that has the stamp. Anything else in the way is left.
if [ -e "$root" ] && [ ! -f "$stamp" ] && [ -n "$(ls -A "$root" 2>/dev/null)" ]; then
  log "$root exists, is not empty and is not a tree of this script: refusing to replace it"
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=(sudo); fi

# apt knows all the packages? If not, refresh the lists once.
known() {
  local p
  for p in "${packages[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || return 1
  done
}
if ! known; then
  log "apt does not know ${packages[*]}: apt-get update"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  known || { log "no package ${packages[*]} in the apt sources (wrong BOOST_ALT_VERSION?)"; exit 1; }
fi

work="$(mktemp -d "$(dirname "$root")/.boost-alt.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/debs" "$work/root"
# apt drops privileges to _apt for downloads: let it write there (else it warns and downloads
# as root).
chmod 755 "$work"
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$work/debs"; fi

log "downloading ${packages[*]}"
(cd "$work/debs" && apt-get download -q "${packages[@]}" >&2)
for deb in "$work"/debs/*.deb; do
  log "unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$work/root"
done

got="$(lib_version_of "$work/root/usr/include")"
if [ "$got" != "$want_lib_version" ]; then
  log "unpacked BOOST_LIB_VERSION is '$got', expected '$want_lib_version'"
  exit 1
fi
[ -d "$work/root/usr/lib/$multiarch/cmake/Boost-${version}.0" ] ||
  { log "no BoostConfig in $work/root/usr/lib/$multiarch/cmake/Boost-${version}.0"; exit 1; }
(cd "$work/debs" && ls -1 -- *.deb) >"$work/root/.boost-alt-complete"  # the stamp: what it holds

rm -rf "$root"
mv "$work/root" "$root"
log "Boost $version unpacked in $root"
echo "$inc $lib"
