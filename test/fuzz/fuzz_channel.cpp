// Fuzz target: channels opened over hostile shared memory. A channel object (broadcast or
// queue) is filled with the fuzzer's bytes, then
//  1. validate_channel() runs on an exact-size heap copy (ASan sees any read past the object);
//  2. in a real segment, the object's tag may be damaged too, then readers (and a writer
//     re-attaching) open it and read/peek/publish a few frames, as a process would after another
//     wrote garbage into the segment.
// Input: byte 0 = mode bits, bytes 1..24 = tag damage (used when mode bit 3 is set), the rest =
// the channel object's bytes (header, records, slots), at most 16 KiB.
// Invariants: only shmkit::Error escapes (corrupt, incompatible_format, type_mismatch, busy, ...);
// every frame handed out lies inside the object or the caller's buffer and is at most max_frame
// bytes; a found object never extends past the block that was allocated for it.
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>

#include "channel_internal.hpp"
#include "fuzz_common.hpp"
#include "shmkit/broadcast_channel.hpp"
#include "shmkit/detail/object_tag.hpp"
#include "shmkit/queue_channel.hpp"
#include "shmkit/segment.hpp"

namespace sd = shmkit::detail;
using shmkit::Errc;

namespace {

constexpr std::size_t kMaxObject = 16 * 1024;
constexpr std::size_t kTagBytes = 24;

// One segment for the whole run, its name removed at once: nothing is left in /dev/shm even if
// the fuzzer stops on a crash.
shmkit::Segment& segment() {
  static shmkit::Segment s = [] {
    const std::string name = "shmkit-fuzz-channel-" + std::to_string(::getpid());
    shmkit::SegmentOptions o;
    o.backend = shmkit::Backend::named;
    auto seg = shmkit::Segment::create(name, 1024 * 1024, o);
    shmkit::Segment::remove(name, shmkit::Backend::named);
    return seg;
  }();
  return s;
}

struct FreeDeleter {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};

void check_frame(const shmkit::ReadResult& r, const std::byte* lo, const std::byte* hi, std::span<std::byte> buffer,
                 std::uint32_t max_frame) {
  if (!r) return;
  SHMKIT_FUZZ_CHECK(r.data.size() <= max_frame);
  const std::byte* d = r.data.data();
  const bool in_object = d >= lo && d + r.data.size() <= hi;
  const bool in_buffer = d >= buffer.data() && d + r.data.size() <= buffer.data() + buffer.size();
  SHMKIT_FUZZ_CHECK(r.data.empty() || in_object || in_buffer);
}

bool allowed(Errc c) {
  switch (c) {
    case Errc::corrupt:
    case Errc::incompatible_format:
    case Errc::type_mismatch:
    case Errc::busy:
    case Errc::too_small:
    case Errc::resource_limit:
    case Errc::not_found:
    case Errc::closed:
    case Errc::peer_gone:
      return true;
    default:
      return false;
  }
}

template <class Reader>
void read_some(Reader& reader, unsigned mode, const std::byte* lo, const std::byte* hi) {
  const std::uint32_t max_frame = reader.max_frame();
  // A buffer of max_frame bytes (the documented size), or a small one (too_small is the answer).
  const std::size_t n = (mode & 0x20) != 0 ? std::min<std::size_t>(max_frame, 64) : std::min<std::size_t>(max_frame, kMaxObject);
  std::vector<std::byte> buffer(n);
  for (int i = 0; i < 6; ++i) {
    try {
      if (((mode >> 6) + i) % 3 == 0) {
        const auto r = reader.try_peek();
        check_frame(r, lo, hi, buffer, max_frame);
        (void)reader.finish();
      } else {
        check_frame(reader.try_read(buffer), lo, hi, buffer, max_frame);
      }
    } catch (const shmkit::Error& e) {
      SHMKIT_FUZZ_CHECK(allowed(e.errc()));
    }
  }
}

template <class Storage>
void run(const std::uint8_t* tag_damage, const std::byte* bytes, std::size_t n, unsigned mode) {
  constexpr auto kind = std::is_same_v<Storage, sd::BroadcastStorage> ? shmkit::ChannelKind::broadcast
                                                                      : shmkit::ChannelKind::queue;
  const std::size_t units = std::max<std::size_t>(1, (n + sd::kCacheLine - 1) / sd::kCacheLine);
  const std::size_t object_bytes = units * sd::kCacheLine;

  // 1. Validation alone, on an exact-size heap copy.
  {
    std::unique_ptr<std::byte, FreeDeleter> heap(static_cast<std::byte*>(std::aligned_alloc(sd::kCacheLine, object_bytes)));
    SHMKIT_FUZZ_CHECK(heap != nullptr);
    std::memset(heap.get(), 0, object_bytes);
    std::memcpy(heap.get(), bytes, n);
    try {
      const sd::ChannelView v = sd::validate_channel(heap.get(), object_bytes, kind, "fuzz", true);
      SHMKIT_FUZZ_CHECK(v.slots + std::uint64_t{v.slot_count} * v.stride <= heap.get() + object_bytes);
      SHMKIT_FUZZ_CHECK(v.stride >= sd::kSlotPayloadOffset + v.max_frame);
    } catch (const shmkit::Error& e) {
      SHMKIT_FUZZ_CHECK(e.errc() == Errc::corrupt || e.errc() == Errc::incompatible_format);
    }
  }

  // 2. The same bytes as a named object in a real segment.
  shmkit::Segment& seg = segment();
  Storage* object = seg.construct_array<Storage>("fz", units);
  std::memcpy(static_cast<void*>(object), bytes, n);
  std::memset(reinterpret_cast<std::byte*>(object) + n, 0, object_bytes - n);
  auto [block, block_units] = seg.manager().template find_no_lock<sd::ObjectUnit>("fz");
  SHMKIT_FUZZ_CHECK(block != nullptr);
  auto* tag = reinterpret_cast<sd::ObjectTag*>(block);
  std::byte saved_tag_head[48];
  std::memcpy(saved_tag_head, static_cast<const void*>(tag), sizeof saved_tag_head);
  const auto* block_lo = reinterpret_cast<const std::byte*>(block);
  const auto* block_hi = block_lo + block_units * sizeof(sd::ObjectUnit);
  if ((mode & 0x08) != 0) {
    // Damage element_size..state (bytes 16..39 of the tag): sizes, count, offset, ready flag.
    std::memcpy(reinterpret_cast<std::byte*>(tag) + 16, tag_damage, kTagBytes);
  }
  try {
    auto [found, count] = seg.find_array<Storage>("fz");
    SHMKIT_FUZZ_CHECK(found != nullptr);
    const auto* lo = reinterpret_cast<const std::byte*>(found);
    const auto* hi = lo + count * sd::kCacheLine;
    SHMKIT_FUZZ_CHECK(lo >= block_lo && hi <= block_hi && lo <= hi);
    for (const auto& info : seg.objects()) SHMKIT_FUZZ_CHECK(info.type.size() <= sizeof tag->type_name);
    if constexpr (kind == shmkit::ChannelKind::broadcast) {
      shmkit::ReaderOptions ro;
      ro.register_reader = (mode & 0x02) != 0;
      ro.start = (mode & 0x04) != 0 ? shmkit::StartAt::oldest : shmkit::StartAt::newest;
      if ((mode & 0x82) == 0x82) ro.delivery = shmkit::Delivery::lossless;
      try {
        shmkit::BroadcastReader reader(seg, "fz", ro);
        read_some(reader, mode, lo, hi);
      } catch (const shmkit::Error& e) {
        // A lossless reader on a channel whose header says it has no reader records is refused
        // as the caller's request (invalid_argument), exactly as on an intact channel.
        const bool lossless_without_records =
            ro.delivery == shmkit::Delivery::lossless && e.errc() == Errc::invalid_argument;
        if (!allowed(e.errc()) && !lossless_without_records)
          std::fprintf(stderr, "unexpected error %d: %s\n", static_cast<int>(e.errc()), e.what());
        SHMKIT_FUZZ_CHECK(allowed(e.errc()) || lossless_without_records);
      }
      if ((mode & 0x10) != 0) {
        try {
          // Records may claim lossless readers the writer would wait for: detach them at once.
          shmkit::WriterOptions wo;
          wo.wait = shmkit::WaitStrategy::block();
          wo.wait.liveness_check = std::chrono::milliseconds(1);
          wo.detach_after = std::chrono::milliseconds(1);
          auto w = shmkit::BroadcastWriter::attach(seg, "fz", wo);
          const std::byte payload[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
          (void)w.publish(std::span<const std::byte>(payload, std::min<std::size_t>(3, w.max_frame())));
          shmkit::BroadcastReader reader(seg, "fz", {});
          read_some(reader, mode, lo, hi);
        } catch (const shmkit::Error& e) {
          SHMKIT_FUZZ_CHECK(allowed(e.errc()));
        }
      }
    } else {
      try {
        shmkit::QueueReader reader(seg, "fz", {});
        read_some(reader, mode, lo, hi);
      } catch (const shmkit::Error& e) {
        SHMKIT_FUZZ_CHECK(allowed(e.errc()));
      }
      if ((mode & 0x10) != 0) {
        try {
          auto w = shmkit::QueueWriter::attach(seg, "fz");
          const std::byte payload[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
          (void)w.try_publish(std::span<const std::byte>(payload, std::min<std::size_t>(3, w.max_frame())));
        } catch (const shmkit::Error& e) {
          SHMKIT_FUZZ_CHECK(allowed(e.errc()));
        }
      }
    }
  } catch (const shmkit::Error& e) {
    SHMKIT_FUZZ_CHECK(allowed(e.errc()));
  }
  // Repair the tag so the object can be destroyed and the next input starts from a clean segment.
  std::memcpy(static_cast<void*>(tag), saved_tag_head, sizeof saved_tag_head);
  SHMKIT_FUZZ_CHECK(seg.destroy<Storage>("fz"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 + kTagBytes) return 0;
  const unsigned mode = data[0];
  const std::size_t n = std::min(size - 1 - kTagBytes, kMaxObject);
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 1 + kTagBytes);
  if ((mode & 0x01) == 0)
    run<sd::BroadcastStorage>(data + 1, bytes, n, mode);
  else
    run<sd::QueueStorage>(data + 1, bytes, n, mode);
  return 0;
}
