#!/usr/bin/env bash
# Installs missing Debian packages (sudo when not root), builds shmkit with its tests and runs
# every test through CTest. Extra arguments go to ctest (e.g. -L unit, -R segment).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shmkit_install_packages
shmkit_build -DSHMKIT_BUILD_TESTS=ON
cd "$SHMKIT_BUILD_DIR"
ctest --output-on-failure --parallel "$SHMKIT_JOBS" "$@"
