"""CTest driver: python/shmkit_reader.py against a live shmkit-writer.

Usage: test_shmkit_reader.py <shmkit-writer> <named|memfd>
Checks: the directory lists the demo's objects; a damaged object tag is reported corrupt; every
frame read passes its CRC-32C and its SensorFrame content check; after the writer closes,
delivered + lost == published - first; a writer killed with SIGKILL is noticed as dead. Exit 0
on success.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shmkit_reader as sr  # noqa: E402


def fail(what):
    print("FAIL: " + what, flush=True)
    sys.exit(1)


def start_writer(writer, backend, name, socket_path, rate="1000"):
    args = [writer, "--backend", backend, "--name", name, "--rate", rate, "--quiet"]
    if backend == "memfd":
        args += ["--socket", socket_path]
    return subprocess.Popen(args)


def attach(backend, name, socket_path, proc):
    # The writer's segment appears when it has created it, and its channel when the writer made
    # it ready: wait for those events, bounded.
    deadline = time.monotonic() + 10
    seg = None
    while True:
        if proc.poll() is not None:
            fail("shmkit-writer exited early with %d" % proc.returncode)
        try:
            if seg is None:
                seg = sr.attach_named(name) if backend == "named" else sr.attach_memfd(socket_path)
            frames = seg.find("frames")
            if frames is not None and seg.u32(frames.value_offset + 0x24) == 0x52454459:
                return seg
            e = "no ready channel 'frames' yet"
        except (FileNotFoundError, ConnectionRefusedError, sr.ShmkitError) as error:
            e = error
        if time.monotonic() > deadline:
            fail("could not attach: %s" % e)
        time.sleep(0.01)


def read_frames(reader, want, timeout=20):
    deadline = time.monotonic() + timeout
    while reader.delivered < want:
        data = reader.read()
        if data is None:
            if time.monotonic() > deadline:
                fail("only %d of %d frames within %d s" % (reader.delivered, want, timeout))
            time.sleep(0.0005)
            continue
        if not sr.verify_sensor_frame(data):
            fail("frame %d: content differs from the demo's sample generator" % (reader.cursor - 1))


def main():
    writer, backend = sys.argv[1], sys.argv[2]
    name = "shmkit-pyreader-%d" % os.getpid()
    socket_path = os.path.join(tempfile.gettempdir(), name + ".sock")

    for rate in ("1000", "0"):  # 0: unthrottled, far faster than this reader: frames are lost
        closing_writer(writer, backend, name, socket_path, rate)
    killed_writer(writer, backend, name, socket_path)
    print("PASS")


def remove_named(backend, name):
    if backend == "named":
        try:
            os.unlink("/dev/shm/" + name)
        except FileNotFoundError:
            pass


def closing_writer(writer, backend, name, socket_path, rate):
    """A writer that closes: exact accounting."""
    proc = start_writer(writer, backend, name, socket_path, rate)
    try:
        seg = attach(backend, name, socket_path, proc)
        names = [o.name for o in seg.objects()]
        for want in (b"frames", b"registry", b"stats", b"config", b"commands"):
            if want not in names:
                fail("directory lacks %r: %r" % (want, names))
        if names != sorted(names):
            fail("directory not sorted: %r" % names)
        if seg.find("no-such-object") is not None:
            fail("found an absent object")
        frames = seg.find("frames")
        # A tag damaged while the directory still lists its object is reported, not skipped.
        copy = sr.Segment(bytearray(seg.buf[:seg.mapped]), seg.mapped, "copy")
        config = copy.find("config")
        copy.buf[config.block_offset] ^= 0xFF
        try:
            copy.find("config")
            fail("a damaged object tag went unnoticed")
        except sr.ShmkitError as error:
            if error.errc != "corrupt":
                fail("a damaged object tag gave %s, not corrupt" % error.errc)
        print("objects:", [(o.name.decode(), o.type_name[:40], o.count) for o in seg.objects()])
        reader = sr.BroadcastReader(seg, "frames", start="oldest")
        if reader.checksum != 1:
            fail("the demo channel should carry CRC-32C")
        read_frames(reader, 600)
        proc.send_signal(signal.SIGTERM)
        if proc.wait(timeout=10) != 0:
            fail("shmkit-writer exit status %d" % proc.returncode)
        while reader.read() is not None:
            pass
        _, _, closed, _ = reader.writer()
        published = reader.published()
        print("rate %s: frames %d lost %d checksum failures %d published %d first %d closed %d" %
              (rate, reader.delivered, reader.lost, reader.checksum_failures, published, reader.first, closed))
        if not closed:
            fail("the writer closed but the channel does not say so")
        if reader.checksum_failures != 0:
            fail("checksum failures")
        if reader.delivered + reader.lost != published - reader.first:
            fail("frames + lost != published - first")
        if frames.value_offset % 64 != 0 and frames.value_offset % frames.element_align != 0:
            fail("channel misaligned")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remove_named(backend, name)


def killed_writer(writer, backend, name, socket_path):
    """A writer killed with SIGKILL: its death is noticed."""
    proc = start_writer(writer, backend, name, socket_path)
    try:
        seg = attach(backend, name, socket_path, proc)
        reader = sr.BroadcastReader(seg, "frames")
        read_frames(reader, 30)
        if not reader.writer_alive():
            fail("a live writer was reported dead")
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while reader.writer_alive():
            if time.monotonic() > deadline:
                fail("writer death not noticed within 5 s")
            time.sleep(0.001)
        print("writer death noticed; %d frames read before it" % reader.delivered)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remove_named(backend, name)


if __name__ == "__main__":
    main()
