"""CTest driver: python/shmkit_reader.py follows a segment that grows while it is mapped.

Usage: test_shmkit_reader_growth.py <shmkit-test-segment-helper> <named|memfd>
The helper creates a segment of 64 KiB that may grow to 16 MiB and grows it by 1 MiB on each
request, placing a 100,000-element array in the new room. Checks: the reader's size follows the
header after every grow, it finds every array and reads its first and last values, and the
objects made before the growth stay readable. Exit 0 on success.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shmkit_reader as sr  # noqa: E402


def fail(what):
    print("FAIL: " + what, flush=True)
    sys.exit(1)


def value(seg, entry, i):
    return seg.u64(entry.value_offset + 8 * i)


def main():
    helper, backend = sys.argv[1], sys.argv[2]
    name = "shmkit-pygrow-%d" % os.getpid()
    proc = subprocess.Popen([helper, "serve-growing", backend, name], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        ready = proc.stdout.readline().split()
        if len(ready) != 3 or ready[0] != "ready":
            fail("helper did not start: %r" % ready)
        size = int(ready[1])
        seg = sr.attach_named(name) if backend == "named" else sr.attach_memfd(ready[2])
        if seg.size != size or size != 64 * 1024:
            fail("size %d, helper says %d" % (seg.size, size))
        if seg.max_size != 16 << 20:
            fail("max_size %d" % seg.max_size)
        for k in range(1, 6):
            proc.stdin.write("grow\n")
            proc.stdin.flush()
            grown = proc.stdout.readline().split()
            if len(grown) != 2 or grown[0] != "grown":
                fail("grow %d: helper answered %r" % (k, grown))
            if seg.size != int(grown[1]) or seg.size != 64 * 1024 + k * (1 << 20):
                fail("grow %d: reader size %d, helper size %s" % (k, seg.size, grown[1]))
            entry = seg.find("obj-%d" % k)
            if entry is None or entry.count != 100000:
                fail("grow %d: obj-%d not found whole" % (k, k))
            if entry.value_offset + 8 * 100000 <= 64 * 1024:
                fail("grow %d: obj-%d is not in the grown room" % (k, k))
            if value(seg, entry, 0) != 1000 + k or value(seg, entry, 99999) != 1000 + k:
                fail("grow %d: obj-%d holds %d..%d" % (k, k, value(seg, entry, 0), value(seg, entry, 99999)))
            first = seg.find("obj-0")
            if first is None or value(seg, first, 0) != 1000:
                fail("grow %d: obj-0 lost" % k)
        if len(seg.objects()) != 6:
            fail("%d objects listed, 6 expected" % len(seg.objects()))
        seg.close()
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        if proc.wait(timeout=30) != 0:
            fail("helper exited with %d" % proc.returncode)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print("OK: %s segment followed through 5 grows" % backend)


if __name__ == "__main__":
    main()
