#!/usr/bin/env bash
# Runs every libFuzzer target for N seconds (default 60), starting from the committed corpus.
#   scripts/fuzz.sh [seconds] [target...]
# Needs a build configured with clang, -DSHMKIT_SANITIZE=address -DSHMKIT_FUZZ=ON (scripts/test.sh
# makes one in build-asan); SHMKIT_FUZZ_BUILD_DIR names another. Targets run SHMKIT_JOBS at a
# time. New inputs go to <build>/fuzz-corpus/<target> (the committed corpus is only read);
# SHMKIT_FUZZ_MERGE=1 then merges the ones that add coverage into test/fuzz/corpus/<target>.
# A crash, leak, timeout (SHMKIT_FUZZ_TIMEOUT, default 30 s for one input: generous, as a loaded
# machine can stall a process for seconds) or broken invariant fails the script; the input is
# saved as <build>/fuzz-corpus/<target>-crash-*: replay it with the target's binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SHMKIT_FUZZ_BUILD_DIR:-$ROOT/build-asan}"
SECONDS_EACH="${1:-60}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(control_hello control_reply segment_header channel)
JOBS="${SHMKIT_JOBS:-$(nproc 2>/dev/null || echo 2)}"
WORK="$BUILD/fuzz-corpus"
mkdir -p "$WORK"

run_one() {
  local t="$1" bin="$BUILD/fuzz/shmkit-fuzz-$1"
  [ -x "$bin" ] || { echo "fuzz: $bin missing (configure with clang, -DSHMKIT_SANITIZE=address -DSHMKIT_FUZZ=ON)" >&2; return 1; }
  mkdir -p "$WORK/$t"
  # detect_leaks stays on; -timeout catches hangs; rss limit catches runaway allocation.
  "$bin" -max_total_time="$SECONDS_EACH" -timeout="${SHMKIT_FUZZ_TIMEOUT:-30}" -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$WORK/$t-" "$WORK/$t" "$ROOT/test/fuzz/corpus/$t" > "$WORK/$t.log" 2>&1
}

declare -A pids=()
status=0
for t in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
  run_one "$t" &
  pids[$t]=$!
done
for t in "${TARGETS[@]}"; do
  if wait "${pids[$t]}"; then result=ok; else result=FAILED; status=1; fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$WORK/$t.log" | tail -1 || true)
  echo "fuzz $t: $result, ${execs:-0} inputs in ${SECONDS_EACH}s, ${cov:-cov: ?} (log: $WORK/$t.log)"
  if [ "$result" = FAILED ]; then
    grep -E 'ERROR|invariant|SUMMARY|Test unit written' "$WORK/$t.log" | head -20 >&2 || true
  fi
  if [ "${SHMKIT_FUZZ_MERGE:-0}" = 1 ] && [ "$result" = ok ]; then
    "$BUILD/fuzz/shmkit-fuzz-$t" -merge=1 "$ROOT/test/fuzz/corpus/$t" "$WORK/$t" >> "$WORK/$t.log" 2>&1
  fi
done
exit $status
