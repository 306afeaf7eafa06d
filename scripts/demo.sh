#!/usr/bin/env bash
# Installs missing Debian packages (sudo when not root), builds shmkit and runs the demo.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shmkit_install_packages
shmkit_build -DSHMKIT_BUILD_TESTS=OFF
"$SHMKIT_BUILD_DIR/examples/shmkit-example-shared-map"
