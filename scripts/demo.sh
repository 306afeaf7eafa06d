#!/usr/bin/env bash
# Installs missing Debian packages (sudo when not root), builds shmkit and runs the demo:
# two processes sharing a container, then shmkit-writer with two shmkit-readers for 5 seconds
# (one verifies every frame, one changes the writer's gain), with shmkit-inspect in between.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shmkit_install_packages
shmkit_build -DSHMKIT_BUILD_TESTS=OFF
bin="$SHMKIT_BUILD_DIR/bin"
name="shmkit-demo-$$"

echo "== two processes share a map<string, vector<int>>"
"$SHMKIT_BUILD_DIR/examples/shmkit-example-shared-map"

echo "== shmkit-writer publishes for 5 s; shmkit-reader verifies every frame"
"$bin/shmkit-writer" --name "$name" --duration 5s --quiet &
writer=$!
trap 'kill $writer 2>/dev/null || true' EXIT
"$bin/shmkit-reader" --name "$name" --wait-for-writer 10s --count 300 --set gain=2 --interval 10s >/dev/null
"$bin/shmkit-inspect" "$name"
echo
"$bin/shmkit-reader" --name "$name" --wait-for-writer 10s --verify --start oldest
wait $writer
trap - EXIT
echo "== demo: OK"
