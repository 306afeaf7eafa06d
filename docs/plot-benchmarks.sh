#!/bin/sh
# Turns a shmkit-bench JSON file into the two charts docs/benchmarks.md shows:
#   latency-vs-size.png     one-way median latency against frame size (log-log)
#   throughput-vs-size.png  GB/s against frame size (log-log)
# Usage: docs/plot-benchmarks.sh bench.json [output-dir]   (default: docs/images)
# Needs python3 (to read the JSON) and gnuplot (Debian: apt-get install gnuplot-nox). Not part
# of the build or the tests.
set -eu
json=${1:?usage: plot-benchmarks.sh bench.json [output-dir]}
out=${2:-$(dirname "$0")/images}
command -v gnuplot >/dev/null || { echo "plot-benchmarks.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)  # gnuplot runs in the scratch directory below
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per series: "size value" lines, from the results whose id matches a prefix.
python3 - "$json" "$tmp" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
tmp = sys.argv[2]
rows = {r["id"]: r for r in doc["results"] if not r.get("skipped")}
def series(name, ids, key, scale=1.0):
    with open(f"{tmp}/{name}.dat", "w") as f:
        for i in ids:
            r = rows.get(i)
            if r and r.get(key):
                f.write(f'{r["size"]} {r[key] * scale}\n')
sizes = ["64", "4K", "64K", "1M"]
series("bcast_busy", [f"latency/channel/broadcast/busy/{s}" for s in sizes], "median_ns", 1e-3)
series("queue_busy", [f"latency/channel/queue/busy/{s}" for s in sizes], "median_ns", 1e-3)
for k, i in [("floor", "latency/floor/cacheline"), ("futex", "latency/ipc/futex"), ("pipe", "latency/ipc/pipe"),
             ("stream", "latency/ipc/stream"), ("mq", "latency/ipc/mq"), ("iox", "latency/iceoryx/busy/64"),
             ("bcast_block", "latency/channel/broadcast/block/64"), ("bcast_spin", "latency/channel/broadcast/spin/64")]:
    r = rows.get(i)
    with open(f"{tmp}/lat_{k}.dat", "w") as f:
        if r: f.write(f'64 {r["median_ns"] * 1e-3}\n')  # 64 B point (the floor's 8 B line shown at 64)
gb = 1e-9
series("memcpy", [f"throughput/floor/memcpy/{s}" for s in sizes], "bytes_per_s", gb)
series("ring", [f"throughput/ring/{s}" for s in sizes], "bytes_per_s", gb)
series("q_copy", [f"throughput/channel/queue/copy/{s}/r1" for s in sizes], "bytes_per_s", gb)
series("q_loan", [f"throughput/channel/queue/loan/{s}/r1" for s in sizes], "bytes_per_s", gb)
series("q_crc", [f"throughput/channel/queue/copy+crc/{s}/r1" for s in sizes], "bytes_per_s", gb)
series("b_copy", [f"throughput/channel/broadcast/copy/{s}/r1" for s in sizes], "bytes_per_s", gb)
series("pipe", [f"throughput/ipc/pipe/{s}" for s in sizes], "bytes_per_s", gb)
series("stream", [f"throughput/ipc/stream/{s}" for s in sizes], "bytes_per_s", gb)
series("mq", [f"throughput/ipc/mq/{s}" for s in sizes], "bytes_per_s", gb)
series("iox", ["throughput/iceoryx/64", "throughput/iceoryx/loan/1M"], "bytes_per_s", gb)
series("q_batch", ["throughput/channel/queue/copy+batch16/64/r1"], "bytes_per_s", gb)
m = doc["machine"]
with open(f"{tmp}/title.txt", "w") as f:
    f.write(f'{m["cpu"]}, {m["cpus"]} CPUs, load {m["load_start"][0]:.1f}-{m["load_end"][0]:.1f}')
PY
title=$(cat "$tmp/title.txt")

cd "$tmp"
gnuplot <<GP
set terminal pngcairo size 1000,560 font ",10" noenhanced
set logscale xy
set grid
set key outside right
set xtics ("64 B" 64, "4 KiB" 4096, "64 KiB" 65536, "1 MiB" 1048576)
set xrange [40:1600000]
set xlabel "frame size"

set output "$out/latency-vs-size.png"
set title "One-way latency (median), shmkit-bench\n$title"
set ylabel "microseconds"
plot "bcast_busy.dat" w lp lw 2 pt 7 t "shmkit broadcast, busy-poll", \
     "queue_busy.dat" w lp lw 2 pt 5 t "shmkit queue, busy-poll", \
     "lat_bcast_spin.dat" w p pt 9 ps 1.5 t "shmkit broadcast, spin-then-block", \
     "lat_bcast_block.dat" w p pt 11 ps 1.5 t "shmkit broadcast, block", \
     "lat_floor.dat" w p pt 3 ps 2 t "cache-line floor", \
     "lat_futex.dat" w p pt 2 ps 1.5 t "futex wake-up", \
     "lat_pipe.dat" w p pt 4 ps 1.5 t "pipe", \
     "lat_stream.dat" w p pt 6 ps 1.5 t "unix stream", \
     "lat_mq.dat" w p pt 8 ps 1.5 t "Boost message_queue", \
     "lat_iox.dat" w p pt 13 ps 1.5 t "iceoryx 2.0"

set output "$out/throughput-vs-size.png"
set title "Throughput (median of repeats), shmkit-bench\n$title"
set ylabel "GB/s"
plot "memcpy.dat" w lp lw 2 dt 2 t "memcpy, one thread (floor)", \
     "q_loan.dat" w lp lw 2 pt 7 t "shmkit queue, zero-copy loan", \
     "q_copy.dat" w lp lw 2 pt 5 t "shmkit queue, copy", \
     "q_batch.dat" w p pt 11 ps 1.5 t "shmkit queue, copy, publish\\_batch of 16 (64 B)", \
     "q_crc.dat" w lp lw 1 pt 5 t "shmkit queue, copy + CRC32C", \
     "b_copy.dat" w lp lw 1 pt 9 t "shmkit broadcast, copy (lossy)", \
     "ring.dat" w lp lw 2 pt 4 t "naive SPSC ring", \
     "mq.dat" w lp pt 8 t "Boost message_queue", \
     "pipe.dat" w lp pt 2 t "pipe", \
     "stream.dat" w lp pt 6 t "unix stream", \
     "iox.dat" w p pt 13 ps 1.5 t "iceoryx 2.0 (64 B copy, 1 MiB loan)"
GP
echo "wrote $out/latency-vs-size.png $out/throughput-vs-size.png"
