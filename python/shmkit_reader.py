"""Read shmkit segments from Python, with the standard library only.

Written from docs/format.md (segment header, object directory, object tags), docs/protocol.md
(attaching to a memfd segment over its control socket) and docs/channels.md (broadcast channel
layout and reader rules). Linux, x86-64 (little-endian, total store order: the seqlock reads
below rely on loads not being reordered with other loads, which x86 guarantees).

    seg = attach_named("shmkit-demo")            # named backend: /dev/shm/<name>
    seg = attach_memfd("/run/user/1000/shmkit/shmkit-demo.sock")
    for obj in seg.objects(): print(obj.name, obj.type_name, obj.count)
    reader = BroadcastReader(seg, "frames")
    frame = reader.read()                          # bytes, or None when nothing new
"""

import mmap
import os
import socket
import struct
import time

FORMAT_VERSION = 2
SEGMENT_MAGIC = b"SHMKSEG1"
OBJECT_MAGIC = b"SHMKOBJ1"
HEADER_SIZE = 384
MANAGER_OFFSET = 4096
ENTRY_SIZE = 400
TAG_SIZE = 128


class ShmkitError(Exception):
    """errc is the shmkit error code's name: corrupt, incompatible_format, too_small, ..."""

    def __init__(self, errc, message):
        super().__init__(message)
        self.errc = errc


# ---- process liveness (format.md §3) -------------------------------------------------------

def process_start_time(pid):
    """Field 22 of /proc/<pid>/stat and the state letter, or None if there is no such process."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    rest = stat[stat.rfind(b")") + 2:].split()
    return rest[0].decode(), int(rest[19])


def process_alive(pid, start_time):
    if pid <= 0:
        return False
    got = process_start_time(pid)
    if got is None:
        return False
    state, start = got
    if state in ("Z", "X"):  # a zombie has exited
        return False
    return start_time == 0 or start == start_time


# ---- the segment ---------------------------------------------------------------------------

class ObjectEntry:
    __slots__ = ("name", "type_name", "block_offset", "block_bytes", "value_offset", "count", "type_hash",
                 "element_size", "element_align")

    def __repr__(self):
        return "ObjectEntry(%r, %r, count=%d, value_offset=%d)" % (self.name, self.type_name, self.count,
                                                                  self.value_offset)


class Segment:
    """A read-only mapping of a segment. It may grow while mapped (format.md §3.1): `size` is the
    header's total_size, and the mapping follows it (remapped from the object, whose size is at
    least total_size) when it outgrows what was mapped. Nothing past total_size is ever read."""

    def __init__(self, buffer, size, name, keep_alive=None, fd=None):
        self.buf = buffer
        self.mapped = size
        self.name = name
        self._keep_alive = keep_alive  # the control socket of a memfd attachment
        self._fd = fd  # the object, to map more of it when the segment grows
        self._validate_header()

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def size(self):
        """Bytes of the segment now (the header's total_size)."""
        total = self.u64(0x18)
        if total > self.mapped and self._fd is not None and total <= self.max_size:
            have = os.fstat(self._fd).st_size
            if have >= total:
                self.buf = mmap.mmap(self._fd, have, mmap.MAP_SHARED, mmap.PROT_READ)
                self.mapped = have
        return min(total, self.mapped)

    @property
    def max_size(self):
        return self.u64(0x130)

    def u32(self, off):
        return struct.unpack_from("<I", self.buf, off)[0]

    def i32(self, off):
        return struct.unpack_from("<i", self.buf, off)[0]

    def u64(self, off):
        return struct.unpack_from("<Q", self.buf, off)[0]

    def _fail(self, errc, what):
        raise ShmkitError(errc, "segment '%s' %s" % (self.name, what))

    def _validate_header(self):
        if self.mapped < MANAGER_OFFSET + 1024:
            self._fail("too_small", "is %d bytes: too small to be a shmkit segment" % self.mapped)
        magic = bytes(self.buf[0:8])
        if magic != SEGMENT_MAGIC:
            if magic[::-1] == SEGMENT_MAGIC:
                self._fail("incompatible_format", "was made on a machine of the other byte order")
            self._fail("incompatible_format", "is not a shmkit segment (no shmkit magic)")
        deadline = time.monotonic() + 2.0
        while self.u32(0x10) != 1:
            if time.monotonic() > deadline:
                self._fail("timeout", "is not ready (its creator is still initializing it, or died doing so)")
            time.sleep(0.001)
        version = self.u32(0x0C)
        if version != FORMAT_VERSION:
            self._fail("incompatible_format", "has format %d; this reader reads format %d" % (version, FORMAT_VERSION))
        header_size = self.u32(0x08)
        if not HEADER_SIZE <= header_size <= MANAGER_OFFSET:
            self._fail("corrupt", "has a header size of %d bytes" % header_size)
        endian, ptr, size_t = struct.unpack_from("<IBB", self.buf, 0x50)
        if endian != 0x01020304 or ptr != 8 or size_t != 8:
            self._fail("incompatible_format", "was made for another platform (pointer size %d)" % ptr)
        # What was mapped is the object's whole size; the header's total_size may grow later.
        total = self.u64(0x18)
        maximum = self.u64(0x130)
        if total > self.mapped:
            self._fail("too_small", "says %d bytes but only %d are there" % (total, self.mapped))
        if maximum < total:
            self._fail("corrupt", "has a maximum size below its size")
        if self.mapped > maximum:
            self._fail("corrupt", "has %d bytes, more than its maximum size of %d" % (self.mapped, maximum))
        if self.u64(0x20) != MANAGER_OFFSET or self.u64(0x28) + MANAGER_OFFSET > maximum:
            self._fail("corrupt", "has an inconsistent allocator offset or size")
        if not 1 <= self.u32(0x14) <= 3:
            self._fail("corrupt", "names an unknown backend")

    @property
    def creator(self):
        return self.i32(0x30), self.u64(0x38)

    # ---- the object directory (format.md §5) ----

    def _read_directory(self, use):
        """Runs use(offset, count) under the directory's seqlock until it ran on a stable copy."""
        start = time.monotonic()
        while True:
            e1 = self.u64(0x48)
            if e1 % 2 == 0:
                offset, capacity, count = struct.unpack_from("<QII", self.buf, 0x138)
                try:
                    ok = self._table_valid(offset, capacity, count)
                    result = use(offset, count) if ok else None
                except ShmkitError:
                    ok = False
                if self.u64(0x48) == e1:
                    if not ok:
                        self._fail("corrupt", "has a damaged object directory")
                    return result
            else:
                waited = time.monotonic() - start
                pid, start_time = self.i32(0x148), self.u64(0x150)
                if waited > 0.001 and self.u64(0x48) == e1 and pid > 0 and not process_alive(pid, start_time):
                    self._fail("corrupt", "was left half-changed by process %d, which died" % pid)
                if waited > 2.0:
                    self._fail("timeout", "has an object directory that has been changing for 2 s")
                time.sleep(0.0001)

    def _table_valid(self, offset, capacity, count):
        if offset == 0:
            return capacity == 0 and count == 0
        return (count <= capacity and offset % 8 == 0 and offset >= HEADER_SIZE and
                offset + capacity * ENTRY_SIZE <= self.size)

    def _entry(self, at):
        (block_offset, block_bytes, value_offset, count, type_hash, element_size, element_align, name_length,
         type_length) = struct.unpack_from("<QQQQQIIHH", self.buf, at)
        if not (1 <= name_length <= 255 and type_length <= 87 and block_offset % 8 == 0 and
                block_bytes >= TAG_SIZE and block_offset + block_bytes <= self.size and
                block_offset + TAG_SIZE <= value_offset <= block_offset + block_bytes):
            raise ShmkitError("corrupt", "malformed directory entry")
        room = block_offset + block_bytes - value_offset
        if (count > room // element_size) if element_size else (count > room):
            raise ShmkitError("corrupt", "malformed directory entry")
        e = ObjectEntry()
        e.name = bytes(self.buf[at + 56:at + 56 + name_length])
        e.type_name = bytes(self.buf[at + 312:at + 312 + type_length]).decode("utf-8", "replace")
        e.block_offset, e.block_bytes, e.value_offset, e.count = block_offset, block_bytes, value_offset, count
        e.type_hash, e.element_size, e.element_align = type_hash, element_size, element_align
        return e

    def objects(self):
        """Every object the directory lists, sorted by name (names as bytes)."""
        return self._read_directory(
            lambda offset, count: [self._entry(offset + i * ENTRY_SIZE) for i in range(count)])

    def find(self, name):
        """The entry of `name` (str or bytes), or None: a binary search, as format.md §5.3 says."""
        key = name.encode() if isinstance(name, str) else name

        def search(offset, count):
            lo, hi = 0, count
            while lo < hi:
                mid = (lo + hi) // 2
                at = offset + mid * ENTRY_SIZE
                length = min(struct.unpack_from("<H", self.buf, at + 48)[0], 255)
                if bytes(self.buf[at + 56:at + 56 + length]) < key:
                    lo = mid + 1
                else:
                    hi = mid
            if lo == count:
                return None
            e = self._entry(offset + lo * ENTRY_SIZE)
            return e if e.name == key else None

        def tag_ready(e):
            return bytes(self.buf[e.block_offset:e.block_offset + 8]) == OBJECT_MAGIC and \
                self.u32(e.block_offset + 36) == 1

        # The tag is read after the consistent copy, so a destroy() in between may have freed it:
        # only a bad tag that the directory still lists on a second look is damage.
        entry = self._read_directory(search)
        while entry is not None and not tag_ready(entry):
            again = self._read_directory(search)
            if again is not None and again.block_offset == entry.block_offset and not tag_ready(again):
                self._fail("corrupt", "object %r has no ready shmkit tag" % name)
            entry = again
        return entry


def attach_named(name):
    """Maps the named-backend segment `name` read-only (/dev/shm/<name>). Python's mmap maps no
    more than the object has, so the object's size is mapped, and more as the segment grows."""
    fd = os.open("/dev/shm/" + name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size < MANAGER_OFFSET + 1024:
            raise ShmkitError("too_small", "segment '%s' is %d bytes: too small" % (name, size))
        buf = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    except BaseException:
        os.close(fd)
        raise
    return Segment(buf, size, name, fd=fd)


# ---- memfd: the control protocol (protocol.md) ---------------------------------------------

F_GET_SEALS = 1034
REQUIRED_SEALS = 0x1 | 0x2  # seal, shrink (a segment that may grow has no grow seal)
REFUSALS = {1: "bad_magic", 2: "unsupported_version", 3: "access_denied", 4: "server_busy", 5: "malformed",
            6: "unsupported_access", 7: "incompatible_format", 8: "handshake_timeout", 9: "internal_error",
            10: "no_such_channel", 11: "no_event_slot"}


def attach_memfd(socket_path, timeout=2.0):
    """Attaches read-only to the memfd segment served at `socket_path` ('@name': abstract)."""
    import fcntl
    import stat as st
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    address = "\0" + socket_path[1:] if socket_path.startswith("@") else socket_path
    fds = []
    try:
        sock.connect(address)
        hello = struct.pack("<4sHHII16x", b"SHKC", 1, 1, 2, FORMAT_VERSION)  # access 2: read-only
        try:
            sock.sendall(hello)
        except OSError:
            pass  # the server may have refused before reading: its answer says why
        msg, fds, flags, _ = socket.recv_fds(sock, 512, 8, socket.MSG_CMSG_CLOEXEC)
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            raise ShmkitError("protocol_error", "truncated reply from " + socket_path)
        if len(msg) < 8 or msg[:4] != b"SHKC":
            raise ShmkitError("protocol_error", "not a shmkit control server: " + socket_path)
        _, _, kind = struct.unpack_from("<4sHH", msg, 0)
        if kind == 3:
            code, length = struct.unpack_from("<IH", msg, 12)
            reason = msg[20:20 + length].decode("utf-8", "replace")
            raise ShmkitError(REFUSALS.get(code, "refused"), "refused: " + reason)
        if kind != 2 or len(msg) != 64:
            raise ShmkitError("protocol_error", "malformed ACCEPT")
        size, fmt, seg_flags, fd_count = struct.unpack_from("<QIII", msg, 8)
        roles = struct.unpack_from("<8I", msg, 32)
        if fmt != FORMAT_VERSION or fd_count != len(fds) or not 1 <= fd_count <= 8 or size == 0:
            raise ShmkitError("protocol_error", "inconsistent ACCEPT (format %d, %d fds)" % (fmt, len(fds)))
        if [r for r in roles[:fd_count]].count(1) != 1 or any(roles[fd_count:]):
            raise ShmkitError("protocol_error", "ACCEPT must pass exactly one segment memfd")
        memfd = fds[roles.index(1)]
        info = os.fstat(memfd)
        # `size` is the segment's maximum: the memfd has at most that many bytes (format.md §3.1).
        if not st.S_ISREG(info.st_mode) or info.st_nlink != 0 or not 8192 <= info.st_size <= size:
            raise ShmkitError("protocol_error", "the passed fd is not the promised memfd")
        if fcntl.fcntl(memfd, F_GET_SEALS) & REQUIRED_SEALS != REQUIRED_SEALS:
            raise ShmkitError("protocol_error", "the memfd is not sealed against shrinking")
        buf = mmap.mmap(memfd, info.st_size, mmap.MAP_SHARED, mmap.PROT_READ)
        kept = os.dup(memfd)
    except BaseException:
        sock.close()
        raise
    finally:
        for fd in fds:
            os.close(fd)
    name = os.path.basename(socket_path).rsplit(".sock", 1)[0]
    return Segment(buf, info.st_size, name, keep_alive=sock, fd=kept)


# ---- broadcast channels (channels.md) ------------------------------------------------------

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF."""
    c = crc ^ 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


class WriterGone(Exception):
    pass


class BroadcastReader:
    """A non-registering reader (it writes nothing): frames in order, counting what it lost."""

    def __init__(self, segment, name, start="next"):
        entry = segment.find(name)
        if entry is None:
            raise ShmkitError("not_found", "no object '%s' in segment '%s'" % (name, segment.name))
        self.seg, self.base = segment, entry.value_offset
        s, b = segment, self.base
        limit = entry.count * entry.element_size
        if limit < 0x100 or bytes(s.buf[b:b + 8]) != b"SHMKCHN1" or s.u32(b + 0x08) not in (2, 3) or s.u32(b + 0x0C) != 1:
            # Layout 3 added lossless readers, which a reader that registers nothing ignores.
            raise ShmkitError("type_mismatch", "'%s' is not a broadcast channel of layout 2 or 3" % name)
        if s.u32(b + 0x24) != 0x52454459:
            raise ShmkitError("corrupt", "channel '%s' was never finished" % name)
        self.slots, self.stride, self.max_frame, self.checksum, readers = struct.unpack_from("<IIIII", s.buf, b + 0x10)
        slots_offset, total = s.u64(b + 0x28), s.u64(b + 0x30)
        if (self.slots < 2 or self.slots & (self.slots - 1) or self.slots > 1 << 24 or
                self.stride != (32 + self.max_frame + 63) // 64 * 64 or slots_offset != 0x100 + 64 * readers or
                total != slots_offset + self.slots * self.stride or total > limit):
            raise ShmkitError("corrupt", "channel '%s' has an inconsistent layout" % name)
        self.slot_base = b + slots_offset
        published = self.published()
        self.cursor = {"next": published, "oldest": max(0, published - self.slots),
                       "newest": max(0, published - 1)}[start]
        self.first = self.cursor
        self.delivered = self.lost = self.checksum_failures = 0

    def published(self):
        return self.seg.u64(self.base + 0x40)

    def writer(self):
        """(pid, start_time, closed, heartbeat_ns)"""
        s, b = self.seg, self.base
        return s.i32(b + 0x50), s.u64(b + 0x58), s.u32(b + 0x54), struct.unpack_from("<q", s.buf, b + 0x48)[0]

    def writer_alive(self):
        pid, start, closed, _ = self.writer()
        return not closed and process_alive(pid, start)

    def _resync(self):
        head = self.published()
        slot = self.slot_base + (self.cursor % self.slots) * self.stride
        v = self.seg.u64(slot)
        if v <= 2 * self.cursor + 2 or head < self.cursor + self.slots:
            raise ShmkitError("corrupt", "slot of frame %d has version %d while %d are published" %
                              (self.cursor, v, head))
        target = head - (self.slots - max(1, self.slots // 4))  # a quarter ring behind the oldest
        self.lost += target - self.cursor
        self.cursor = target

    def read(self):
        """The next frame's payload (bytes), or None if there is none yet. Frames that fail their
        checksum are skipped and counted in checksum_failures."""
        s = self.seg
        while True:
            slot = self.slot_base + (self.cursor % self.slots) * self.stride
            expected = 2 * self.cursor + 2
            v = s.u64(slot)
            if v < expected:
                return None
            if v > expected:
                self._resync()
                continue
            size, crc = struct.unpack_from("<II", s.buf, slot + 0x10)
            n = min(size, self.max_frame)
            data = bytes(s.buf[slot + 32:slot + 32 + n])
            if s.u64(slot) != v:  # overwritten while we copied
                self._resync()
                continue
            if size > self.max_frame:
                raise ShmkitError("corrupt", "frame %d claims %d bytes" % (self.cursor, size))
            self.cursor += 1
            if self.checksum == 1 and crc32c(data) != crc:
                self.checksum_failures += 1
                continue
            self.delivered += 1
            return data


# ---- the demo's records (shmkit-writer; apps/common/sensor_demo.hpp) ------------------------

FRAME_MAGIC = 0x53454E53  # "SENS"
SENSOR_SCALE = (0.001, 0.01, 0.00981)


def synth_sample(sensor, tick, i):
    """The raw sample i of `sensor` at `tick`: what shmkit-writer publishes."""
    t = tick * 64 + i
    if sensor == 0:
        phase = t % 200
        return (1000 - phase * 150 if phase < 6 else 0) + t % 37 - 18
    if sensor == 1:
        return 3650 + (t // 97) % 11 - 5
    if sensor == 2:
        return ((t * 2654435761) & 0xFFFFFFFFFFFFFFFF) % 2001 - 1000  # uint64 arithmetic, as in C++
    return 0


def parse_sensor_frame(data):
    """(sensor, tick, gain, scale, samples, config_version) of a SensorFrame payload."""
    magic, sensor, tick, gain, scale, count, config_version = struct.unpack_from("<IIQddII", data, 0)
    if magic != FRAME_MAGIC or 40 + 4 * count > len(data):
        raise ShmkitError("corrupt", "not a SensorFrame")
    samples = struct.unpack_from("<%di" % count, data, 40)
    return sensor, tick, gain, scale, samples, config_version


def verify_sensor_frame(data):
    sensor, tick, _, scale, samples, _ = parse_sensor_frame(data)
    return (sensor < 3 and scale == SENSOR_SCALE[sensor] and
            all(v == synth_sample(sensor, tick, i) for i, v in enumerate(samples)))
