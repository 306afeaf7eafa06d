#!/usr/bin/env bash
# shmkit-bridge between two network namespaces ("hosts") joined by a veth pair.
#   bridge_netns_test.sh SCENARIO BIN_DIR QUEUE_TOOL INJECT_TOOL
# SCENARIO: queue | broadcast | writer_kill | faults | malformed (see each function).
# Exit 0 pass, 1 fail, 77 skip (with the reason on stdout). Every wait is bounded; the
# namespaces, segments and processes are removed by the EXIT trap.
set -u
scenario=$1 bin=$2 qtool=$3 inject=$4

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "needs iproute2 (ip)"
command -v python3 >/dev/null || skip "needs python3 to read the JSON results"

id=$$ A=sbA$$ B=sbB$$ src=sbsrc$$ dst=sbdst$$ topic=sbtopic$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null
  rm -f "/dev/shm/$src" "/dev/shm/$dst" /dev/shm/*"$src"* /dev/shm/*"$dst"* 2>/dev/null
  rm -rf "$work"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
ip netns add "$A" 2>/dev/null || skip "cannot create network namespaces here"
ip netns add "$B" || fail "second namespace"
ip link add "vA$id" type veth peer name "vB$id" || skip "cannot create a veth pair"
ip link set "vA$id" netns "$A" && ip link set "vB$id" netns "$B" || fail "moving the veth ends"
ip -n "$A" addr add 10.77.0.1/24 dev "vA$id" && ip -n "$B" addr add 10.77.0.2/24 dev "vB$id" || fail "addresses"
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set "vA$id" up && ip -n "$B" link set "vB$id" up || fail "link up"
ip -n "$A" route add 224.0.0.0/4 dev "vA$id" && ip -n "$B" route add 224.0.0.0/4 dev "vB$id" || fail "multicast routes"

# Arrays, not functions: a background function would run in a subshell, and kill -9 of its pid
# would miss the program (ip netns exec execs it, so it keeps the pid).
inA=(ip netns exec "$A")
inB=(ip netns exec "$B")
# Starts a command in the background (output to $work/NAME.out); its pid in $last.
start() { local name=$1; shift; "$@" >"$work/$name.out" 2>"$work/$name.err" & last=$!; pids+=("$last"); }
# The last JSON line of a file, field by field: json FILE FIELD
json() { python3 -c 'import json,sys
lines=[l for l in open(sys.argv[1]) if l.startswith("{")]
print(json.loads(lines[-1])[sys.argv[2]] if lines else "")' "$1" "$2"; }
# Waits for pid $1 at most $2 seconds; returns its exit status, or 124 if it still runs.
wait_for() {
  local pid=$1 limit=$2 i
  for ((i = 0; i < limit * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; return $?; fi
    sleep 0.05  # polling a process that runs elsewhere: bounded, not used as synchronization
  done
  return 124
}
show() { for f in "$work"/*.out "$work"/*.err; do echo "== $f"; tail -n 3 "$f"; done; }
export_q() { start export "${inA[@]}" "$bin/shmkit-bridge" export --segment "$src" --channel q --topic "$topic" --json --interval 1s --wait-for-writer 20s; }
import_q() { start import "${inB[@]}" "$bin/shmkit-bridge" import --topic "$topic" --segment "$dst" --channel q --json --interval 1s; }

# Queue: 1,000,000 frames of 64 B, every one delivered once, in order, intact. The reader starts
# only once the imported queue is full and the importer, waiting for room, has gone on reporting.
queue() {
  local n=1000000 i stalled='"final":false.*"full_waits":[1-9]'
  start produce "${inA[@]}" "$qtool" produce "$src" q $n 64; local producer=$last
  export_q
  import_q
  for ((i = 0; i < 600; i++)); do
    grep -q "$stalled" "$work/import.out" 2>/dev/null && break
    sleep 0.05  # polling another process's output: bounded, not used as synchronization
  done
  grep -q "$stalled" "$work/import.out" || { show; fail "no status line from the importer while its queue was full"; }
  start consume "${inB[@]}" "$qtool" consume "$dst" q $n 90; local consumer=$last
  wait_for "$consumer" 100; local rc=$?
  show
  [ $rc = 0 ] || fail "consumer exit $rc"
  wait_for "$producer" 10 || fail "producer did not finish"
  [ "$(json "$work/consume.out" frames)" = $n ] || fail "frames"
  echo "PASS queue: $(tail -n 1 "$work/consume.out")"
}

# Broadcast: the reader's loss is exact: frames + lost == frames the writer published - first,
# where lost includes the gaps the importer counted; checksums and payloads verified.
broadcast() {
  start import "${inB[@]}" "$bin/shmkit-bridge" import --topic "$topic" --segment "$dst" --channel frames --json --interval 1s
  start writer "${inA[@]}" "$bin/shmkit-writer" --name "$src" --backend named --rate 5000 --count 5000 --slots 16384 -q; local writer=$last
  start export "${inA[@]}" "$bin/shmkit-bridge" export --segment "$src" --channel frames --topic "$topic" --json --interval 1s --wait-for-writer 20s
  start reader "${inB[@]}" "$bin/shmkit-reader" --name "$dst" --backend named --start oldest --verify --json --interval 1s --wait-for-writer 20s
  local reader=$last
  wait_for "$reader" 60; local rc=$?
  show
  [ $rc = 0 ] || fail "reader exit $rc"
  local outcome published first frames lost exported ilost ifirst
  outcome=$(json "$work/reader.out" outcome); frames=$(json "$work/reader.out" frames); lost=$(json "$work/reader.out" lost)
  first=$(json "$work/reader.out" first_sequence)
  [ "$outcome" = "writer closed the channel" ] || fail "reader outcome: $outcome"
  [ "$(json "$work/reader.out" verify_failures)" = 0 ] && [ "$(json "$work/reader.out" checksum_failures)" = 0 ] || fail "payload damaged"
  published=$(sed -n 's/.*closed after \([0-9]*\) frames.*/\1/p' "$work/writer.out")
  [ -n "$published" ] || published=$(json "$work/export.out" frames)
  kill -INT "${pids[0]}" "${pids[2]}"; sleep 0.5
  ilost=$(json "$work/import.out" lost); ifirst=$(json "$work/import.out" first_sequence)
  exported=$(json "$work/export.out" frames)
  # The reader attached before the imported ring (as large as the writer's) wrapped, so it starts
  # at local frame 0: its frames + lost cover every upstream frame from the importer's first on.
  [ "$first" = 0 ] || fail "reader joined late (first $first)"
  [ $((frames + lost)) = $((exported + $(json "$work/export.out" lost) - ifirst)) ] ||
    fail "reader frames $frames + lost $lost != exported $exported + export-lost - first $ifirst (importer lost $ilost)"
  echo "PASS broadcast: writer published ${published:-?}, exported $exported, reader $frames frames + $lost lost (importer gaps $ilost, first $ifirst)"
}

# kill -9 of the exporting writer: the remote reader reports its writer dead within the bound.
writer_kill() {
  start writer "${inA[@]}" "$bin/shmkit-writer" --name "$src" --backend named --rate 200 -q; local writer=$last
  start export "${inA[@]}" "$bin/shmkit-bridge" export --segment "$src" --channel frames --topic "$topic" --json --interval 1s --wait-for-writer 20s
  start import "${inB[@]}" "$bin/shmkit-bridge" import --topic "$topic" --segment "$dst" --channel frames --json --interval 1s; local importer=$last
  start reader "${inB[@]}" "$bin/shmkit-reader" --name "$dst" --backend named --json --interval 1s --wait-for-writer 20s; local reader=$last
  local i
  for ((i = 0; i < 400; i++)); do [ -n "$(json "$work/reader.out" frames 2>/dev/null)" ] && break; sleep 0.05; done
  [ "$(json "$work/reader.out" frames)" -gt 0 ] 2>/dev/null || { show; fail "no frames reached the reader"; }
  local t0 t1; t0=$(date +%s%N)
  kill -9 "$writer"
  wait "$writer" 2>/dev/null  # reap it: a zombie's /proc entry would still look alive
  wait_for "$reader" 10; local rc=$?
  t1=$(date +%s%N)
  show
  [ $rc != 124 ] || fail "reader still running 10 s after the writer was killed"
  local outcome ms=$(((t1 - t0) / 1000000))
  outcome=$(json "$work/reader.out" outcome)
  [[ "$outcome" == *dead* || "$outcome" == *died* || "$outcome" == *gone* ]] || fail "reader outcome: $outcome"
  wait_for "$importer" 5; local irc=$?
  [ $irc = 3 ] || fail "importer exit $irc (expected 3: writer dead)"
  [ $ms -le 3000 ] || fail "remote reader saw the writer dead after $ms ms (bound 3000 ms)"
  echo "PASS writer_kill: remote reader saw the writer dead $ms ms after kill -9 ($outcome)"
}

# Faults on a queue: link down 2 s, kill -9 and restart of the exporter, then of the importer.
# Every frame arrives at most once and in order; frames lost in flight are counted as gaps.
faults() {
  local n=300000
  start produce "${inA[@]}" "$qtool" produce "$src" q $n 64
  export_q; local exporter=$last
  import_q; local importer=$last
  start consume "${inB[@]}" "$qtool" consume "$dst" q $n 110 faults; local consumer=$last
  sleep 1; ip -n "$A" link set "vA$id" down; sleep 2; ip -n "$A" link set "vA$id" up
  sleep 1; kill -9 "$exporter"; wait "$exporter" 2>/dev/null; export_q
  sleep 1; kill -9 "$importer"; wait "$importer" 2>/dev/null; import_q
  wait_for "$consumer" 100; local rc=$?
  show
  [ $rc = 0 ] || fail "consumer exit $rc: $(tail -n 1 "$work/consume.out")"
  echo "PASS faults: $(tail -n 1 "$work/consume.out")"
}

# Foreign and malformed samples are refused and counted; the importer goes on working.
malformed() {
  start import "${inB[@]}" "$bin/shmkit-bridge" import --topic "$topic" --segment "$dst" --channel frames --json --duration 6s
  local importer=$last
  start inject "${inA[@]}" "$inject" "$topic" frames 64; local injector=$last
  wait_for "$injector" 20 || { show; fail "injector"; }
  wait_for "$importer" 20; local rc=$?
  show
  [ $rc = 0 ] || fail "importer exit $rc"
  [ "$(json "$work/import.out" refused)" = "$(json "$work/inject.out" malformed)" ] || fail "refused count"
  [ "$(json "$work/import.out" frames)" = 1 ] || fail "the valid frame was not imported"
  echo "PASS malformed: $(json "$work/import.out" refused) refused, valid frame imported"
}

case $scenario in
  queue | broadcast | writer_kill | faults | malformed) "$scenario" ;;
  *) fail "unknown scenario $scenario" ;;
esac
exit 0
