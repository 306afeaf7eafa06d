// The channel's shared header as untrusted input: every field scribbled on, before and after a
// reader opened the channel, must give Error(corrupt) (or incompatible_format), never a read
// outside the object. Also the offsets docs/channels.md promises.
#define BOOST_TEST_MODULE channel_layout
#include <array>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <string>

#include "backends.hpp"
#include "child_process.hpp"
#include "../helpers/channel_test_types.hpp"
#include "shmkit/detail/channel_layout.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
using detail::ChannelHeader;

namespace {

ChannelConfig config(std::uint32_t slots, std::uint32_t max_frame) {
  ChannelConfig cfg;
  cfg.slots = slots;
  cfg.max_frame = max_frame;
  return cfg;
}

template <class Storage>
ChannelHeader& header_of(Segment& s, const char* name) {
  return *reinterpret_cast<ChannelHeader*>(s.find_array<Storage>(name).first);
}

template <class Storage>
detail::SlotHeader& slot_of(Segment& s, const char* name, std::uint64_t i) {
  ChannelHeader& h = header_of<Storage>(s, name);
  return *reinterpret_cast<detail::SlotHeader*>(reinterpret_cast<std::byte*>(&h) + h.config.slots_offset +
                                                i * h.config.slot_stride);
}

Errc errc_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE(e.what());
    return e.errc();
  }
  return Errc::ok;
}

struct Scribble {
  std::string what;
  std::function<void(ChannelHeader&)> apply;
};

std::vector<Scribble> config_scribbles() {
  return {
      {"magic", [](ChannelHeader& h) { h.config.magic ^= 1; }},
      {"state", [](ChannelHeader& h) { h.config.state.store(0); }},
      {"kind", [](ChannelHeader& h) { h.config.kind = 2; }},
      {"slot count not a power of two", [](ChannelHeader& h) { h.config.slot_count = 3; }},
      {"slot count huge", [](ChannelHeader& h) { h.config.slot_count = 1u << 31; }},
      {"slot count zero", [](ChannelHeader& h) { h.config.slot_count = 0; }},
      {"slot count larger than the object", [](ChannelHeader& h) {
         h.config.slot_count *= 2;
         h.config.total_bytes = h.config.slots_offset + std::uint64_t{h.config.slot_count} * h.config.slot_stride;
       }},
      {"max frame", [](ChannelHeader& h) { h.config.max_frame = 1u << 31; }},
      {"max frame vs stride", [](ChannelHeader& h) { h.config.max_frame += 64; }},
      {"stride", [](ChannelHeader& h) { h.config.slot_stride = 1u << 30; }},
      {"checksum", [](ChannelHeader& h) { h.config.checksum = 7; }},
      {"reader capacity", [](ChannelHeader& h) { h.config.reader_capacity = 100000; }},
      {"slots offset", [](ChannelHeader& h) { h.config.slots_offset = ~std::uint64_t{0} - 10; }},
      {"total bytes", [](ChannelHeader& h) { h.config.total_bytes = 1ULL << 50; }},
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(documented_offsets) {
  BOOST_TEST(offsetof(ChannelHeader, writer) == 0x40u);
  BOOST_TEST(offsetof(ChannelHeader, consumer) == 0x80u);
  BOOST_TEST(offsetof(ChannelHeader, wait) == 0xC0u);
  BOOST_TEST(sizeof(ChannelHeader) == 0x100u);
  BOOST_TEST(detail::slots_offset_for(16) == 0x500u);
  BOOST_TEST(detail::slot_stride_for(64) == 128u);
  BOOST_TEST(detail::kSlotPayloadOffset == 32u);
}

BOOST_DATA_TEST_CASE(scribbled_config_is_corrupt_on_open, bdata::make(test_backends()), backend) {
  for (const Scribble& sc : config_scribbles()) {
    BOOST_TEST_CONTEXT("scribbled: " << sc.what) {
      ScratchSegment s(backend, 1 << 20, "shmkit-cl");
      std::optional<BroadcastWriter> w(BroadcastWriter::create(*s, "ch", config(8, 64)));
      w->publish(bytes_of("x"));
      ChannelHeader& h = header_of<detail::BroadcastStorage>(*s, "ch");
      sc.apply(h);
      const Errc e = errc_of([&] { BroadcastReader r(*s, "ch", {}); });
      BOOST_TEST(e == Errc::corrupt, "got " << to_string(e));
      BOOST_TEST(errc_of([&] { (void)channel_status(*s, "ch"); }) == Errc::corrupt);
    }
  }
}

BOOST_DATA_TEST_CASE(other_layout_version_is_incompatible, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-cl");
  auto w = QueueWriter::create(*s, "q", config(8, 64));
  header_of<detail::QueueStorage>(*s, "q").config.layout_version = 99;
  BOOST_TEST(errc_of([&] { QueueReader r(*s, "q"); }) == Errc::incompatible_format);
}

BOOST_DATA_TEST_CASE(broadcast_scribbles_after_open_are_corrupt, bdata::make(test_backends()), backend) {
  std::array<std::byte, 64> buf{};
  // `published` far ahead of anything written.
  {
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = BroadcastWriter::create(*s, "ch", config(8, 64));
    BroadcastReader r(*s, "ch", {});
    w.publish(bytes_of("x"));
    BOOST_TEST(r.try_read(buf));
    header_of<detail::BroadcastStorage>(*s, "ch").writer.published.store(1ULL << 60);
    BOOST_TEST(errc_of([&] { (void)r.try_read(buf); }) == Errc::corrupt);
  }
  // A slot's version behind what `published` announces.
  {
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = BroadcastWriter::create(*s, "ch", config(8, 64));
    BroadcastReader r(*s, "ch", {});
    w.publish(bytes_of("x"));
    slot_of<detail::BroadcastStorage>(*s, "ch", 0).version.store(0);
    BOOST_TEST(errc_of([&] { (void)r.try_read(buf); }) == Errc::corrupt);
  }
  // A frame claiming more bytes than a slot holds (copy-out and in place).
  for (bool peek : {false, true}) {
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = BroadcastWriter::create(*s, "ch", config(8, 64));
    BroadcastReader r(*s, "ch", {});
    w.publish(bytes_of("x"));
    slot_of<detail::BroadcastStorage>(*s, "ch", 0).size.store(0xFFFFFFF0u);
    std::array<std::byte, 1 << 12> big{};
    BOOST_TEST(errc_of([&] { (void)(peek ? r.try_peek() : r.try_read(big)); }) == Errc::corrupt);
  }
  // A slot version far ahead (looks like a lap) while `published` says otherwise.
  {
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = BroadcastWriter::create(*s, "ch", config(8, 64));
    BroadcastReader r(*s, "ch", {});
    slot_of<detail::BroadcastStorage>(*s, "ch", 0).version.store(1000);
    BOOST_TEST(errc_of([&] { (void)r.try_read(buf); }) == Errc::corrupt);
  }
}

BOOST_DATA_TEST_CASE(queue_scribbles_after_open_are_corrupt, bdata::make(test_backends()), backend) {
  std::array<std::byte, 64> buf{};
  {
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = QueueWriter::create(*s, "q", config(8, 64));
    QueueReader r(*s, "q");
    header_of<detail::QueueStorage>(*s, "q").writer.published.store(1000);
    BOOST_TEST(errc_of([&] { (void)r.try_read(buf); }) == Errc::corrupt);
  }
  {
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = QueueWriter::create(*s, "q", config(8, 64));
    QueueReader r(*s, "q");
    BOOST_REQUIRE(w.try_publish(bytes_of("x")));
    slot_of<detail::QueueStorage>(*s, "q", 0).version.store(12345);
    BOOST_TEST(errc_of([&] { (void)r.try_read(buf); }) == Errc::corrupt);
  }
  {
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = QueueWriter::create(*s, "q", config(8, 64));
    QueueReader r(*s, "q");
    BOOST_REQUIRE(w.try_publish(bytes_of("x")));
    slot_of<detail::QueueStorage>(*s, "q", 0).size.store(65);
    BOOST_TEST(errc_of([&] { (void)r.try_read(buf); }) == Errc::corrupt);
  }
  {  // The reader's count ahead of the writer's: the writer notices when it looks.
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = QueueWriter::create(*s, "q", config(2, 64));
    BOOST_REQUIRE(w.try_publish(bytes_of("x")));
    BOOST_REQUIRE(w.try_publish(bytes_of("x")));
    header_of<detail::QueueStorage>(*s, "q").consumer.consumed.store(77);
    BOOST_TEST(errc_of([&] { (void)w.try_publish(bytes_of("x")); }) == Errc::corrupt);
  }
}

// Random scribbles over the whole header and slot headers: any Error is fine, a crash is not,
// and whatever is delivered stays inside the object.
BOOST_DATA_TEST_CASE(random_scribbles_never_crash, bdata::make(test_backends()), backend) {
  std::uint64_t rng = 42;
  for (int round = 0; round < 300; ++round) {
    ScratchSegment s(backend, 1 << 20, "shmkit-cl");
    auto w = BroadcastWriter::create(*s, "ch", config(4, 64));
    for (std::uint64_t i = 0; i < 6; ++i) w.publish(bytes_of("frame"));
    auto [lines, count] = s->find_array<detail::BroadcastStorage>("ch");
    auto* bytes = reinterpret_cast<unsigned char*>(lines);
    const std::size_t object = count * sizeof(detail::BroadcastStorage);
    for (int k = 0; k < 4; ++k) {
      const std::size_t at = splitmix64(rng) % object;
      bytes[at] = static_cast<unsigned char>(splitmix64(rng));
    }
    try {
      ReaderOptions o;
      o.register_reader = (round % 2) == 0;
      BroadcastReader r(*s, "ch", o);
      std::array<std::byte, 64> buf{};
      for (int i = 0; i < 10; ++i) {
        auto res = (i % 2) ? r.try_peek() : r.try_read(buf);
        if (res) {
          const auto* p = reinterpret_cast<const unsigned char*>(res.data.data());
          BOOST_TEST((res.data.size() <= 64 &&
                      ((p >= bytes && p + res.data.size() <= bytes + object) ||
                       (res.data.data() >= buf.data() && res.data.data() + res.data.size() <= buf.data() + buf.size()))));
          r.finish();
        }
      }
    } catch (const Error& e) {
      BOOST_TEST((e.errc() == Errc::corrupt || e.errc() == Errc::incompatible_format ||
                  e.errc() == Errc::resource_limit),
                 e.what());
    }
  }
}
