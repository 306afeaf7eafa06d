// Bad input: segments whose header is not what this build writes are refused with the right
// error code and a message that says what differs, never misread.
#define BOOST_TEST_MODULE segment_header
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#if defined(_WIN32)
#include <boost/interprocess/windows_shared_memory.hpp>
#endif
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "backends.hpp"
#include "printing.hpp"
#include "child_process.hpp"
#include "segment_header.hpp"
#include "shmkit/segment.hpp"

using namespace shmkit;
using namespace shmkit::test;
namespace bdata = boost::unit_test::data;
namespace bip = boost::interprocess;

namespace fixtures {

struct Refusal {
  Errc errc = Errc::ok;
  std::string message;
};

Refusal open_refusal(const std::string& name, Backend backend) {
  try {
    Segment::open(name, options_for(backend));
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE(e.what());
    return {e.errc(), e.what()};
  }
  return {};
}

// Creates a segment, lets `scribble` damage its header, and returns what open() says.
Refusal open_after(Backend backend, const std::function<void(detail::SegmentHeader&)>& scribble) {
  const std::string name = unique_name("shmkit-header", backend);
  std::optional<Segment> s = Segment::create(name, 1 << 20, options_for(backend));
  s->construct<int>("x", 1);
  auto* h = reinterpret_cast<detail::SegmentHeader*>(reinterpret_cast<std::byte*>(&s->manager()) -
                                                    detail::kManagerOffset);
  scribble(*h);
  Refusal r = open_refusal(name, backend);
  s.reset();
  Segment::remove(name, backend);
  return r;
}

bool says(const Refusal& r, const std::string& text) { return r.message.find(text) != std::string::npos; }

// A named shared-memory object that shmkit did not make: a POSIX shm object or, on Windows, a
// section (what the named backend uses there), which lives only while this object holds it.
struct ForeignObject {
  ForeignObject(std::size_t size, char fill) : name(unique_name("shmkit-foreign")) {
#if defined(_WIN32)
    section.emplace(bip::create_only, name.c_str(), bip::read_write, size);
    bip::mapped_region r(*section, bip::read_write);
#else
    bip::shared_memory_object o(bip::create_only, name.c_str(), bip::read_write);
    o.truncate(static_cast<bip::offset_t>(size));
    bip::mapped_region r(o, bip::read_write);
#endif
    std::memset(r.get_address(), fill, r.get_size());
  }
#if defined(_WIN32)
  std::string name;
  std::optional<bip::windows_shared_memory> section;
#else
  ~ForeignObject() { bip::shared_memory_object::remove(name.c_str()); }
  std::string name;
#endif
};

}  // namespace fixtures
using namespace fixtures;

BOOST_DATA_TEST_CASE(wrong_magic_is_incompatible, bdata::make(test_backends()), backend) {
  const Refusal r = open_after(backend, [](auto& h) { h.magic = 0x1122334455667788ULL; });
  BOOST_TEST(r.errc == Errc::incompatible_format);
  BOOST_TEST(says(r, "not a shmkit segment"));
}

BOOST_DATA_TEST_CASE(other_byte_order_is_incompatible, bdata::make(test_backends()), backend) {
  const Refusal r = open_after(backend, [](auto& h) { h.magic = __builtin_bswap64(h.magic); });
  BOOST_TEST(r.errc == Errc::incompatible_format);
  BOOST_TEST(says(r, "byte order"));
}

BOOST_DATA_TEST_CASE(newer_format_is_incompatible, bdata::make(test_backends()), backend) {
  const Refusal r = open_after(backend, [](auto& h) { h.format_version = 3; });
  BOOST_TEST(r.errc == Errc::incompatible_format);
  BOOST_TEST(says(r, "has format 3; this build reads format 2"));
}

BOOST_DATA_TEST_CASE(format_1_segment_is_incompatible_naming_both, bdata::make(test_backends()), backend) {
  const Refusal r = open_after(backend, [](auto& h) { h.format_version = 1; });
  BOOST_TEST(r.errc == Errc::incompatible_format);
  BOOST_TEST(says(r, "has format 1; this build reads format 2"));
}

BOOST_DATA_TEST_CASE(other_boost_is_incompatible, bdata::make(test_backends()), backend) {
  const Refusal r = open_after(backend, [](auto& h) { h.layout.boost_version = 108700; });
  BOOST_TEST(r.errc == Errc::incompatible_format);
  BOOST_TEST(says(r, "Boost version is 108700"));
}

BOOST_DATA_TEST_CASE(other_layout_is_incompatible, bdata::make(test_backends()), backend) {
  const Refusal r = open_after(backend, [](auto& h) { h.layout.sizeof_mutex = 40; });
  BOOST_TEST(r.errc == Errc::incompatible_format);
  BOOST_TEST(says(r, "sizeof(shmkit::Mutex) is 40"));
  const Refusal p = open_after(backend, [](auto& h) { h.layout.pointer_size = 4; });
  BOOST_TEST(p.errc == Errc::incompatible_format);
}

BOOST_DATA_TEST_CASE(inconsistent_sizes_are_refused, bdata::make(test_backends()), backend) {
  const Refusal bigger = open_after(backend, [](auto& h) { h.total_size = h.total_size * 2; });
  BOOST_TEST(bigger.errc == Errc::too_small);
  const Refusal header = open_after(backend, [](auto& h) { h.header_size = 1 << 20; });
  BOOST_TEST(header.errc == Errc::corrupt);
  const Refusal manager = open_after(backend, [](auto& h) { h.manager_offset = 8; });
  BOOST_TEST(manager.errc == Errc::corrupt);
  const Refusal maximum = open_after(backend, [](auto& h) { h.max_size = h.total_size - 1; });
  BOOST_TEST(maximum.errc == Errc::corrupt);
  BOOST_TEST(says(maximum, "maximum size"));
}

BOOST_AUTO_TEST_CASE(foreign_object_is_refused) {
  ForeignObject garbage(1 << 20, '\x5a');
  const Refusal r = open_refusal(garbage.name, Backend::named);
  BOOST_TEST(r.errc == Errc::incompatible_format);
  BOOST_TEST(says(r, garbage.name));
}

BOOST_AUTO_TEST_CASE(truncated_object_is_too_small) {
  ForeignObject tiny(100, '\0');
  const Refusal r = open_refusal(tiny.name, Backend::named);
  BOOST_TEST(r.errc == Errc::too_small);
}

BOOST_AUTO_TEST_CASE(zeroed_object_times_out_then_reports) {
  // All zeros looks like a creator still initializing: open waits open_timeout, then says so.
  ForeignObject zeros(1 << 20, '\0');
  SegmentOptions o;
  o.backend = Backend::named;
  o.open_timeout = std::chrono::milliseconds(50);
  Errc got = Errc::ok;
  try {
    Segment::open(zeros.name, o);
  } catch (const Error& e) {
    got = e.errc();
  }
  BOOST_TEST(got == Errc::timeout);
}

BOOST_AUTO_TEST_CASE(header_layout_is_fixed) {
  BOOST_TEST(sizeof(detail::SegmentHeader) == 384u);
  BOOST_TEST(offsetof(detail::SegmentHeader, max_size) == 0x130u);
  BOOST_TEST(offsetof(detail::SegmentHeader, directory_offset) == 0x138u);
  BOOST_TEST(offsetof(detail::SegmentHeader, growth_step) == 0x158u);
  BOOST_TEST(offsetof(detail::SegmentHeader, grow_owner) == 0x160u);
  BOOST_TEST(offsetof(detail::SegmentHeader, format_version) == 0x0Cu);
  BOOST_TEST(offsetof(detail::SegmentHeader, creator_pid) == 0x30u);
  BOOST_TEST(detail::kManagerOffset == 4096u);
}

// A finished segment whose state and creator pid were scribbled over is damage, reported as
// such at once, not as a creator that "died while initializing it".
BOOST_DATA_TEST_CASE(scribbled_state_is_reported_as_damage, bdata::make(test_backends()), backend) {
  const Refusal r = open_after(backend, [](detail::SegmentHeader& h) {
    h.state.store(0x5a5a5a5a);
    h.creator_pid = -699368839;
  });
  BOOST_TEST(r.errc == Errc::corrupt, r.message);
  BOOST_TEST(says(r, "damaged header"), r.message);
  BOOST_TEST(!says(r, "died while initializing"), r.message);
}

// A damaged segment whose creator is dead: the message adds the crash hint to the validation's
// text and still says the code once, at the end.
BOOST_DATA_TEST_CASE(wrapped_messages_say_the_code_once, bdata::make(test_backends()), backend) {
  const Refusal r = open_after(backend, [](detail::SegmentHeader& h) {
    h.header_size = 1 << 20;
    h.creator_pid = 0x7ffffff0;  // above any pid_max: no such process
  });
  BOOST_TEST(r.errc == Errc::corrupt, r.message);
  BOOST_TEST(says(r, "is dead: a leftover of a crash?"), r.message);
  BOOST_TEST(r.message.find(": corrupt") == r.message.size() - std::string(": corrupt").size(), r.message);
}

BOOST_AUTO_TEST_CASE(error_message_is_what_without_the_code) {
  const Error inner(Errc::not_found, "no segment 'x'");
  BOOST_TEST(std::string(inner.what()) == "no segment 'x': not_found");
  BOOST_TEST(inner.message() == "no segment 'x'");
  const Error outer(Errc::not_found, "no writer: " + inner.message());
  BOOST_TEST(std::string(outer.what()) == "no writer: no segment 'x': not_found");
  const Error os(Errc::not_found, "cannot open 'y'", ENOENT);
  BOOST_TEST(os.message() == std::string("cannot open 'y' (") + std::strerror(ENOENT) + ")");
}
