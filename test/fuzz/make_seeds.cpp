// Writes starting corpora for the fuzz targets (test/fuzz/corpus/<target>/seed-*): valid
// messages, headers and channel objects made by this build's own encoders and writers, so the
// fuzzers start from inputs that pass every check. Run: shmkit-fuzz-seeds <corpus dir>.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "segment_header.hpp"
#include "shmkit/broadcast_channel.hpp"
#include "shmkit/detail/channel_layout.hpp"
#include "shmkit/queue_channel.hpp"
#include "shmkit/segment.hpp"

namespace fs = std::filesystem;
namespace ctl = shmkit::detail::control;
namespace sd = shmkit::detail;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  fs::create_directories(root / target);
  std::ofstream(root / target / ("seed-" + name), std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <class Container>
std::vector<std::uint8_t> with_prefix(std::uint8_t prefix, const Container& c) {
  std::vector<std::uint8_t> out{prefix};
  const auto* p = reinterpret_cast<const std::uint8_t*>(c.data());
  out.insert(out.end(), p, p + c.size());
  return out;
}

void control_seeds() {
  ctl::Hello h;
  h.format_version = sd::kFormatVersion;
  write("control_hello", "hello", with_prefix(0, ctl::encode_hello(h)));
  write("control_hello", "hello-with-fd", with_prefix(1, ctl::encode_hello(h)));
  h.version = 2;
  write("control_hello", "hello-v2", with_prefix(0, ctl::encode_hello(h)));
  // Version 2: a channel's eventfd; a hostile one passing fds, and one in version 1.
  write("control_hello", "fd-request", with_prefix(0, ctl::encode_fd_request("prices")));
  write("control_hello", "fd-request-with-fds", with_prefix(2, ctl::encode_fd_request("prices")));
  write("control_hello", "fd-request-v1", with_prefix(0, ctl::encode_fd_request("q", 1)));

  ctl::Accept a;
  a.segment_size = 1 << 20;
  a.format_version = sd::kFormatVersion;
  a.segment_flags = ctl::kSegmentWritable;
  a.fd_count = 1;
  a.roles[0] = ctl::FdRole::segment_memfd;
  write("control_reply", "accept", with_prefix(1, ctl::encode_accept(a)));
  a.fd_count = 2;
  a.roles[1] = ctl::FdRole::eventfd;
  write("control_reply", "accept-2fds", with_prefix(2, ctl::encode_accept(a)));
  ctl::Refuse r;
  r.code = ctl::RefuseCode::access_denied;
  r.reason = "uid 1000 may not attach";
  write("control_reply", "refuse", with_prefix(0, ctl::encode_refuse(r)));
  r.code = ctl::RefuseCode::unsupported_version;
  r.reason = std::string(190, 'x') + "\xC3\xA9";
  write("control_reply", "refuse-long", with_prefix(0, ctl::encode_refuse(r)));
  ctl::EventFdReply e;
  e.slot = 5;
  write("control_reply", "event-fd", with_prefix(1, ctl::encode_event_fd(e)));
  r.code = ctl::RefuseCode::no_event_slot;
  r.reason = "channel 'prices' has all its 32 eventfd subscribers";
  write("control_reply", "refuse-no-event-slot", with_prefix(0, ctl::encode_refuse(r)));
}

void header_seeds() {
  for (auto backend : {shmkit::Backend::named, shmkit::Backend::memfd, shmkit::Backend::file}) {
    sd::SegmentHeader h{};
    sd::write_header(h, "seed", backend, 1 << 20);
    h.state.store(sd::kReady);
    std::vector<std::uint8_t> bytes(sizeof h);
    std::memcpy(bytes.data(), static_cast<const void*>(&h), sizeof h);
    write("segment_header", std::string("header-") + shmkit::to_string(backend), bytes);
  }
}

// The bytes of a live channel object after a few publishes, with the fuzz target's 25-byte prefix.
template <class Storage>
std::vector<std::uint8_t> channel_bytes(shmkit::Segment& seg, const char* name, std::uint8_t mode) {
  auto [p, n] = seg.find_array<Storage>(name);
  std::vector<std::uint8_t> out(25, 0);
  out[0] = mode;
  const auto* b = reinterpret_cast<const std::uint8_t*>(p);
  out.insert(out.end(), b, b + n * sd::kCacheLine);
  // The writer's pid is ours: a dead one by the time the fuzzer runs (pid 0: no writer).
  std::memset(out.data() + 25 + offsetof(sd::ChannelHeader, writer) + offsetof(sd::WriterLine, pid), 0, 4);
  return out;
}

void channel_seeds() {
  const std::string name = "shmkit-fuzz-seeds-" + std::to_string(::getpid());
  shmkit::SegmentOptions o;
  o.backend = shmkit::Backend::named;
  auto seg = shmkit::Segment::create(name, 1 << 20, o);
  shmkit::Segment::remove(name, shmkit::Backend::named);
  const std::byte payload[40] = {std::byte{7}};
  {
    auto w = shmkit::BroadcastWriter::create(seg, "b", {.slots = 4, .max_frame = 64, .checksum = shmkit::Checksum::none, .max_readers = 2});
    for (int i = 0; i < 6; ++i) w.publish(std::span<const std::byte>(payload, 10 + i));
    write("channel", "broadcast", channel_bytes<sd::BroadcastStorage>(seg, "b", 0x00));
    write("channel", "broadcast-register-oldest", channel_bytes<sd::BroadcastStorage>(seg, "b", 0x06));
    write("channel", "broadcast-writer", channel_bytes<sd::BroadcastStorage>(seg, "b", 0x10));
    // A lossless reader's record left behind (its process, ours, is gone when the fuzzer runs).
    shmkit::BroadcastReader r(seg, "b", {.delivery = shmkit::Delivery::lossless});
    write("channel", "broadcast-lossless-writer", channel_bytes<sd::BroadcastStorage>(seg, "b", 0x96));
  }
  {
    auto w = shmkit::BroadcastWriter::create(seg, "c", {.slots = 2, .max_frame = 32, .checksum = shmkit::Checksum::crc32c, .max_readers = 0});
    for (int i = 0; i < 3; ++i) w.publish(std::span<const std::byte>(payload, 30));
    write("channel", "broadcast-crc", channel_bytes<sd::BroadcastStorage>(seg, "c", 0x44));
  }
  {
    auto w = shmkit::QueueWriter::create(seg, "q", {.slots = 4, .max_frame = 64, .checksum = shmkit::Checksum::crc32c, .max_readers = 0});
    for (int i = 0; i < 3; ++i) (void)w.try_publish(std::span<const std::byte>(payload, 20 + i));
    write("channel", "queue-crc", channel_bytes<sd::QueueStorage>(seg, "q", 0x01));
    write("channel", "queue-writer", channel_bytes<sd::QueueStorage>(seg, "q", 0x11));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  root = argv[1];
  control_seeds();
  header_seeds();
  channel_seeds();
  return 0;
}
