#!/usr/bin/env bash
# Measures shmkit-bridge against Cyclone DDS itself between two network namespaces joined by a
# veth pair (root), in one run, and prints a table; JSON goes to $1 (default build/bridge-bench.json).
#   throughput: 64 B and 64 KiB frames/s, queue channel through both bridges (reliable) vs
#               ddsperf pub/sub (reliable) with the same sizes;
#   latency:    one-way p50/p99 from the queue writer to the remote queue reader at 1000 frames/s
#               vs half the round trip of ddsperf ping/pong, and one local queue hop
#               (same tool, no bridge) for what the two shared-memory ends add.
# Needs a build with the bridge (build/bin/shmkit-bridge, build/test/shmkit-test-bridge-queue).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/bridge-bench.json}
bin=$root/build/bin qtool=$root/build/test/shmkit-test-bridge-queue
[ "$(id -u)" = 0 ] || { echo "bridge-bench: needs root (network namespaces)"; exit 77; }
A=bbA$$ B=bbB$$ work=$(mktemp -d)
cleanup() { ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; rm -rf "$work"; rm -f /dev/shm/bb*$$*; }
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
ip link add "bA$$" type veth peer name "bB$$"
ip link set "bA$$" netns "$A"; ip link set "bB$$" netns "$B"
ip -n "$A" addr add 10.77.0.1/24 dev "bA$$"; ip -n "$B" addr add 10.77.0.2/24 dev "bB$$"
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set "bA$$" up; ip -n "$B" link set "bB$$" up
ip -n "$A" route add 224.0.0.0/4 dev "bA$$"; ip -n "$B" route add 224.0.0.0/4 dev "bB$$"
field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }

# ddsperf pub/sub: the receiving side's rate (kS/s) in its last full second.
ddsperf_rate() {
  local size=$1
  ip netns exec "$B" timeout 9 ddsperf -D 6 sub >"$work/sub.log" 2>&1 &
  ip netns exec "$A" timeout 9 ddsperf -D 6 pub size "$size" >/dev/null 2>&1 || true
  wait
  grep -o 'rate [0-9.]* kS/s' "$work/sub.log" | tail -n 2 | head -n 1 | awk '{printf "%.0f", $2 * 1000}'
}
# ddsperf ping/pong (its 12-byte samples): half the median and 99th percentile round trip, in us.
ddsperf_oneway() {
  ip netns exec "$B" timeout 9 ddsperf -D 6 pong >/dev/null 2>&1 &
  ip netns exec "$A" timeout 9 ddsperf -D 6 ping 1000Hz >"$work/ping.log" 2>&1 || true
  wait
  grep ' 50% ' "$work/ping.log" | tail -n 1 | sed 's/.* 50% \([0-9.]*\)us.* 99% \([0-9.]*\)us.*/\1 \2/' | awk '{printf "%.1f %.1f\n", $1 / 2, $2 / 2}'
}
# The bridge: writer -> export (A) -> DDS -> import (B) -> reader; the reader's JSON.
bridged() {
  local n=$1 size=$2 rate=$3 seg=bb$RANDOM$$
  local t=(/usr/bin/time -f "%U %S" -o)  # each process's CPU seconds, for the table's CPU line
  ip netns exec "$A" "${t[@]}" "$work/cpu.writer" "$qtool" produce "${seg}s" q "$n" "$size" "$rate" >/dev/null &
  ip netns exec "$A" timeout 90 "${t[@]}" "$work/cpu.export" "$bin/shmkit-bridge" export --segment "${seg}s" --channel q --topic "t$seg" -q --count "$n" --wait-for-writer 20s &
  ip netns exec "$B" timeout 90 "${t[@]}" "$work/cpu.import" "$bin/shmkit-bridge" import --topic "t$seg" --segment "${seg}d" --channel q -q --count "$n" &
  ip netns exec "$B" "${t[@]}" "$work/cpu.reader" "$qtool" consume "${seg}d" q "$n" 80 >"$work/consume.json"
  wait
  rm -f "/dev/shm/${seg}s" "/dev/shm/${seg}d"
  cat "$work/consume.json"
}
cpu_s() { awk '{printf "%.2f", $1 + $2}' "$work/cpu.$1"; }
# One local shmkit queue hop (writer -> reader in one namespace, no bridge): the bridged path
# has two of these around the DDS hop, so they bound what the bridge can add.
local_hop() {
  local seg=bb$RANDOM$$
  ip netns exec "$A" "$qtool" produce "$seg" q 5000 64 1000 >/dev/null &
  ip netns exec "$A" "$qtool" consume "$seg" q 5000 80 >"$work/local.json"
  wait
  rm -f "/dev/shm/$seg"
  cat "$work/local.json"
}

dds64=$(ddsperf_rate 64); dds64k=$(ddsperf_rate 65536)
bridged 300000 64 0 >"$work/b64.json"; br64=$(field "$work/b64.json" frames_per_s)
cpu64="writer $(cpu_s writer), export $(cpu_s export), import $(cpu_s import), reader $(cpu_s reader)"
bridged 5000 65536 0 >"$work/b64k.json"; br64k=$(field "$work/b64k.json" frames_per_s)
ddsperf_oneway >"$work/oneway.txt" || true
read -r dds_p50 dds_p99 <"$work/oneway.txt" || { echo "bridge-bench: no ddsperf ping result"; tail -n 5 "$work/ping.log"; exit 1; }
bridged 5000 64 1000 >"$work/lat.json"
br_p50=$(field "$work/lat.json" latency_p50_us); br_p99=$(field "$work/lat.json" latency_p99_us)
local_hop >"$work/hop.json"
hop_p50=$(field "$work/hop.json" latency_p50_us); hop_p99=$(field "$work/hop.json" latency_p99_us)

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
printf '%-34s %14s %14s %8s\n' "measure" "bridge" "Cyclone DDS" "ratio"
printf '%-34s %14s %14s %8s\n' "64 B frames/s (reliable)" "$br64" "$dds64" "$(ratio "$br64" "$dds64")"
printf '%-34s %14s %14s %8s\n' "64 KiB frames/s (reliable)" "$br64k" "$dds64k" "$(ratio "$br64k" "$dds64k")"
printf '%-34s %14s %14s %8s\n' "one-way latency p50 us (1 kHz)" "$br_p50" "$dds_p50" "$(ratio "$br_p50" "$dds_p50")"
printf '%-34s %14s %14s %8s\n' "one-way latency p99 us (1 kHz)" "$br_p99" "$dds_p99" "$(ratio "$br_p99" "$dds_p99")"
printf '%-34s %14s %14s\n' "local queue hop p50/p99 us (1 kHz)" "$hop_p50 / $hop_p99" "(no bridge)"
echo "CPU seconds in the 64 B run ($(python3 -c "import sys; print(f'{300000 / float(sys.argv[1]):.2f}')" "$br64") s of frames, 2 cores): $cpu64"
mkdir -p "$(dirname "$out")"
cat >"$out" <<JSON
{"frames_per_s_64B":{"bridge":$br64,"dds":$dds64},"frames_per_s_64KiB":{"bridge":$br64k,"dds":$dds64k},
 "oneway_latency_us_p50":{"bridge":$br_p50,"dds":$dds_p50},"oneway_latency_us_p99":{"bridge":$br_p99,"dds":$dds_p99},
 "local_queue_hop_us":{"p50":$hop_p50,"p99":$hop_p99},"cpu_s_64B_run":"$cpu64"}
JSON
echo "bridge-bench: JSON in $out"
