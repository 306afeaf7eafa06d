// Control channel wire format: exact bytes, and rejection of every malformed field.
#define BOOST_TEST_MODULE control_protocol
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "shmkit/error.hpp"

using namespace shmkit;
namespace ctl = shmkit::detail::control;

namespace {

std::vector<std::byte> bytes_of(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

void put_u16(std::vector<std::byte>& b, std::size_t at, std::uint16_t v) {
  b[at] = std::byte(v & 0xFF);
  b[at + 1] = std::byte(v >> 8);
}
void put_u32(std::vector<std::byte>& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = std::byte((v >> (8 * i)) & 0xFF);
}
void put_u64(std::vector<std::byte>& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + static_cast<std::size_t>(i)] = std::byte((v >> (8 * i)) & 0xFF);
}
unsigned at(const std::vector<std::byte>& b, std::size_t i) { return std::to_integer<unsigned>(b[i]); }

std::vector<std::byte> good_hello() {
  ctl::Hello h;
  h.format_version = 1;
  return bytes_of(ctl::encode_hello(h));
}

std::vector<std::byte> good_accept() {
  ctl::Accept a;
  a.segment_size = 0x0102030405060708ULL;
  a.format_version = 1;
  a.segment_flags = ctl::kSegmentWritable;
  a.fd_count = 2;
  a.roles[0] = ctl::FdRole::eventfd;
  a.roles[1] = ctl::FdRole::segment_memfd;
  return bytes_of(ctl::encode_accept(a));
}

std::vector<std::byte> refuse_bytes(std::string_view reason, ctl::RefuseCode code = ctl::RefuseCode::access_denied) {
  ctl::Refuse r;
  r.code = code;
  r.reason = std::string(reason);
  return ctl::encode_refuse(r);
}

// The REFUSE the server would answer `packet` with (fails the test if it accepts it).
ctl::Refuse hello_refusal(const std::vector<std::byte>& packet) {
  auto d = ctl::decode_hello(packet);
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<ctl::Refuse>(d), "HELLO was accepted");
  return std::get<ctl::Refuse>(d);
}

bool protocol_error(const Error& e) { return e.errc() == Errc::protocol_error; }

}  // namespace

BOOST_AUTO_TEST_CASE(hello_bytes_are_as_documented) {
  const auto b = good_hello();
  BOOST_TEST(b.size() == 32u);
  BOOST_TEST(std::memcmp(b.data(), "SHKC", 4) == 0);
  BOOST_TEST(at(b, 4) == 1u);  // version 1, little-endian
  BOOST_TEST(at(b, 5) == 0u);
  BOOST_TEST(at(b, 6) == 1u);  // type HELLO
  BOOST_TEST(at(b, 8) == 1u);  // access read-write
  BOOST_TEST(at(b, 12) == 1u);  // format version
  for (std::size_t i = 16; i < 32; ++i) BOOST_TEST(at(b, i) == 0u);
  auto d = ctl::decode_hello(b);
  BOOST_REQUIRE(std::holds_alternative<ctl::Hello>(d));
  BOOST_TEST(std::get<ctl::Hello>(d).format_version == 1u);
  BOOST_TEST((std::get<ctl::Hello>(d).access == ctl::Access::read_write));
}

BOOST_AUTO_TEST_CASE(hello_with_any_bad_field_is_refused_with_the_right_code) {
  auto b = good_hello();
  BOOST_TEST((hello_refusal({b.begin(), b.begin() + 7}).code == ctl::RefuseCode::malformed));
  BOOST_TEST((hello_refusal({}).code == ctl::RefuseCode::malformed));

  auto bad = b;
  bad[0] = std::byte{'X'};
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::bad_magic));

  bad = b;
  put_u16(bad, 4, 3);
  auto r = hello_refusal(bad);
  BOOST_TEST((r.code == ctl::RefuseCode::unsupported_version));
  BOOST_TEST(r.reason.find("versions 1 to 2") != std::string::npos);
  BOOST_TEST(r.min_version == 1u);
  BOOST_TEST(r.max_version == 2u);
  put_u16(bad, 4, 0);
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::unsupported_version));
  // A newer client's longer HELLO is still answered "unsupported version", not "malformed".
  bad.resize(48);
  put_u16(bad, 4, 9);
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::unsupported_version));

  bad = b;
  put_u16(bad, 6, 2);
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::malformed));
  bad = b;
  bad.push_back(std::byte{0});
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::malformed));
  bad = b;
  bad.pop_back();
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::malformed));
  bad = b;
  bad[31] = std::byte{1};
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::malformed));
  bad = b;
  put_u32(bad, 8, 2);  // read-only: a valid request since read-only views
  {
    const auto d = ctl::decode_hello(bad);
    BOOST_REQUIRE(std::holds_alternative<ctl::Hello>(d));
    BOOST_TEST((std::get<ctl::Hello>(d).access == ctl::Access::read_only));
  }
  put_u32(bad, 8, 7);
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::malformed));
  bad = b;
  put_u32(bad, 12, 0);
  BOOST_TEST((hello_refusal(bad).code == ctl::RefuseCode::malformed));
}

BOOST_AUTO_TEST_CASE(accept_bytes_are_as_documented_and_round_trip) {
  const auto b = good_accept();
  BOOST_TEST(b.size() == 64u);
  BOOST_TEST(at(b, 6) == 2u);
  BOOST_TEST(at(b, 8) == 0x08u);  // segment size, little-endian
  BOOST_TEST(at(b, 15) == 0x01u);
  BOOST_TEST(at(b, 24) == 2u);  // fd count
  BOOST_TEST(at(b, 32) == 2u);  // roles[0] eventfd
  BOOST_TEST(at(b, 36) == 1u);  // roles[1] segment memfd
  auto d = ctl::decode_reply(b);
  BOOST_REQUIRE(std::holds_alternative<ctl::Accept>(d));
  const auto& a = std::get<ctl::Accept>(d);
  BOOST_TEST(a.segment_size == 0x0102030405060708ULL);
  BOOST_TEST(a.fd_count == 2u);
  BOOST_TEST((a.roles[1] == ctl::FdRole::segment_memfd));
}

BOOST_AUTO_TEST_CASE(accept_with_any_bad_field_is_a_protocol_error) {
  const auto b = good_accept();
  auto check = [](std::vector<std::byte> bad, const char* what) {
    BOOST_TEST_CONTEXT(what) { BOOST_CHECK_EXCEPTION(ctl::decode_reply(bad), Error, protocol_error); }
  };
  auto bad = b;
  check({b.begin(), b.begin() + 7}, "short header");
  check({b.begin(), b.begin() + 40}, "truncated");
  bad = b;
  bad.push_back(std::byte{0});
  check(bad, "too long");
  bad = b;
  bad[3] = std::byte{0};
  check(bad, "magic");
  bad = b;
  put_u16(bad, 4, 2);
  check(bad, "version");
  bad = b;
  put_u16(bad, 6, 1);
  check(bad, "type HELLO");
  bad = b;
  put_u16(bad, 6, 77);
  check(bad, "unknown type");
  bad = b;
  put_u64(bad, 8, 0);
  check(bad, "size 0");
  bad = b;
  put_u64(bad, 8, ~0ULL);
  check(bad, "size beyond PTRDIFF_MAX");
  bad = b;
  put_u32(bad, 16, 0);
  check(bad, "format 0");
  bad = b;
  put_u32(bad, 20, 0x80);
  check(bad, "unknown flag");
  bad = b;
  put_u32(bad, 28, 1);
  check(bad, "reserved");
  bad = b;
  put_u32(bad, 24, 0);
  check(bad, "fd count 0");
  bad = b;
  put_u32(bad, 24, 9);
  check(bad, "fd count 9");
  bad = b;
  put_u32(bad, 32, 5);
  check(bad, "unknown role");
  bad = b;
  put_u32(bad, 32, 1);
  check(bad, "two segment memfds");
  bad = b;
  put_u32(bad, 36, 2);
  check(bad, "no segment memfd");
  bad = b;
  put_u32(bad, 60, 1);
  check(bad, "role past the count");
}

BOOST_AUTO_TEST_CASE(refuse_round_trips_and_its_text_is_validated) {
  const std::string reason = "access denied: uid 7 \xC3\xA9";  // ends in a 2-byte character
  auto b = refuse_bytes(reason);
  BOOST_TEST(b.size() == 20u + reason.size());
  BOOST_TEST(at(b, 16) == reason.size());
  auto d = ctl::decode_reply(b);
  BOOST_REQUIRE(std::holds_alternative<ctl::Refuse>(d));
  BOOST_TEST(std::get<ctl::Refuse>(d).reason == reason);
  BOOST_TEST((std::get<ctl::Refuse>(d).code == ctl::RefuseCode::access_denied));

  // REFUSE is readable whatever its version (frozen layout for version negotiation).
  auto v9 = b;
  put_u16(v9, 4, 9);
  BOOST_TEST(std::holds_alternative<ctl::Refuse>(ctl::decode_reply(v9)));

  auto check = [](std::vector<std::byte> bad, const char* what) {
    BOOST_TEST_CONTEXT(what) { BOOST_CHECK_EXCEPTION(ctl::decode_reply(bad), Error, protocol_error); }
  };
  auto bad = b;
  put_u16(bad, 16, static_cast<std::uint16_t>(reason.size() - 1));
  check(bad, "length disagrees");
  bad = b;
  put_u16(bad, 16, 300);
  check(bad, "length above 200");
  bad = b;
  bad[20] = std::byte{0x07};
  check(bad, "control character");
  bad = b;
  bad[b.size() - 1] = std::byte{0xFF};
  check(bad, "invalid UTF-8");
  bad = b;
  put_u16(bad, 18, 1);
  check(bad, "reserved");
  bad = b;
  put_u32(bad, 8, 0);
  check(bad, "code 0");
  bad = b;
  put_u16(bad, 12, 3);
  check(bad, "min above max");
  bad = refuse_bytes("");
  bad.resize(19);
  check(bad, "shorter than fixed part");
}

BOOST_AUTO_TEST_CASE(refuse_reason_is_cut_at_200_bytes_on_a_character_boundary_and_sanitized) {
  std::string reason(199, 'a');
  reason += "\xC3\xA9";  // would end at byte 201
  auto d = ctl::decode_reply(refuse_bytes(reason));
  BOOST_TEST(std::get<ctl::Refuse>(d).reason == std::string(199, 'a'));

  d = ctl::decode_reply(refuse_bytes("bad\nline\xFF end"));
  BOOST_TEST(std::get<ctl::Refuse>(d).reason == "bad?line? end");
}

BOOST_AUTO_TEST_CASE(reason_text_validation) {
  BOOST_TEST(ctl::valid_reason_text("plain"));
  BOOST_TEST(ctl::valid_reason_text("\xF0\x9F\x98\x80"));  // U+1F600
  BOOST_TEST(!ctl::valid_reason_text("\xC0\xAF"));          // overlong '/'
  BOOST_TEST(!ctl::valid_reason_text("\xE0\x80\xAF"));      // overlong, 3 bytes
  BOOST_TEST(!ctl::valid_reason_text("\xED\xA0\x80"));      // surrogate
  BOOST_TEST(!ctl::valid_reason_text("\xF4\x90\x80\x80"));  // beyond U+10FFFF
  BOOST_TEST(!ctl::valid_reason_text("\xE2\x82"));          // cut short
  BOOST_TEST(!ctl::valid_reason_text(std::string_view("a\0b", 3)));
  BOOST_TEST(!ctl::valid_reason_text("\x7F"));
}

BOOST_AUTO_TEST_CASE(socket_addresses) {
  auto a = ctl::socket_address("@shmkit-test");
  BOOST_TEST(a.abstract);
  BOOST_TEST(a.address.sun_path[0] == '\0');
  BOOST_TEST(std::string(a.address.sun_path + 1, 11) == "shmkit-test");
  BOOST_TEST(a.length == offsetof(sockaddr_un, sun_path) + 12);
  auto f = ctl::socket_address("/tmp/x.sock");
  BOOST_TEST(!f.abstract);
  BOOST_TEST(std::string(f.address.sun_path) == "/tmp/x.sock");
  auto invalid = [](const Error& e) { return e.errc() == Errc::invalid_argument; };
  BOOST_CHECK_EXCEPTION(ctl::socket_address(""), Error, invalid);
  BOOST_CHECK_EXCEPTION(ctl::socket_address("@"), Error, invalid);
  BOOST_CHECK_EXCEPTION(ctl::socket_address("/tmp/" + std::string(103, 'x')), Error, invalid);
  BOOST_CHECK_NO_THROW(ctl::socket_address("/tmp/" + std::string(102, 'x')));  // 107 bytes: fits
}

// ---- Version 2: FD_REQUEST / EVENT_FD ----

BOOST_AUTO_TEST_CASE(fd_request_bytes_are_as_documented_and_decode) {
  const auto b = ctl::encode_fd_request("prices");
  BOOST_TEST(b.size() == 16u + 6u);
  BOOST_TEST(std::memcmp(b.data(), "SHKC", 4) == 0);
  BOOST_TEST(at(b, 4) == 2u);  // version 2
  BOOST_TEST(at(b, 6) == 4u);  // type FD_REQUEST
  BOOST_TEST(at(b, 8) == 6u);  // name length
  for (std::size_t i = 10; i < 16; ++i) BOOST_TEST(at(b, i) == 0u);
  BOOST_TEST(std::memcmp(b.data() + 16, "prices", 6) == 0);
  const auto d = ctl::decode_request(b);
  BOOST_REQUIRE(std::holds_alternative<ctl::FdRequest>(d));
  BOOST_TEST(std::get<ctl::FdRequest>(d).channel == "prices");
  // decode_request takes HELLOs of versions 1 and 2 too.
  BOOST_TEST(std::holds_alternative<ctl::Hello>(ctl::decode_request(good_hello())));
  auto v2 = good_hello();
  put_u16(v2, 4, 2);
  BOOST_REQUIRE(std::holds_alternative<ctl::Hello>(ctl::decode_request(v2)));
  BOOST_TEST(std::get<ctl::Hello>(ctl::decode_request(v2)).version == 2u);
}

BOOST_AUTO_TEST_CASE(fd_request_with_any_bad_field_is_refused_malformed) {
  auto code = [](const std::vector<std::byte>& p) {
    const auto d = ctl::decode_request(p);
    BOOST_REQUIRE(std::holds_alternative<ctl::Refuse>(d));
    return std::get<ctl::Refuse>(d).code;
  };
  const auto good = ctl::encode_fd_request("ch");
  BOOST_TEST((code(ctl::encode_fd_request("ch", 1)) == ctl::RefuseCode::malformed));  // needs version 2
  BOOST_TEST((code(ctl::encode_fd_request("ch", 3)) == ctl::RefuseCode::unsupported_version));
  auto bad = good;
  bad.pop_back();  // shorter than its name length
  BOOST_TEST((code(bad) == ctl::RefuseCode::malformed));
  bad = good;
  bad.push_back(std::byte{'x'});  // longer
  BOOST_TEST((code(bad) == ctl::RefuseCode::malformed));
  bad = good;
  bad[10] = std::byte{1};  // reserved
  BOOST_TEST((code(bad) == ctl::RefuseCode::malformed));
  bad = good;
  bad[14] = std::byte{1};
  BOOST_TEST((code(bad) == ctl::RefuseCode::malformed));
  bad = good;
  bad[16] = std::byte{0};  // NUL in the name
  BOOST_TEST((code(bad) == ctl::RefuseCode::malformed));
  BOOST_TEST((code(ctl::encode_fd_request("")) == ctl::RefuseCode::malformed));
  BOOST_TEST((code(ctl::encode_fd_request(std::string(201, 'a'))) == ctl::RefuseCode::malformed));
  bad = good;
  put_u16(bad, 6, 9);  // unknown type
  BOOST_TEST((code(bad) == ctl::RefuseCode::malformed));
  // decode_hello still takes HELLO only.
  BOOST_TEST(std::holds_alternative<ctl::Refuse>(ctl::decode_hello(good)));
}

BOOST_AUTO_TEST_CASE(event_fd_reply_round_trips_and_bad_ones_are_protocol_errors) {
  ctl::EventFdReply r;
  r.slot = 31;
  const auto b = ctl::encode_event_fd(r);
  std::vector<std::byte> v(b.begin(), b.end());
  BOOST_TEST(v.size() == 16u);
  BOOST_TEST(at(v, 4) == 2u);
  BOOST_TEST(at(v, 6) == 5u);
  BOOST_TEST(at(v, 8) == 31u);
  const auto d = ctl::decode_event_reply(v);
  BOOST_REQUIRE(std::holds_alternative<ctl::EventFdReply>(d));
  BOOST_TEST(std::get<ctl::EventFdReply>(d).slot == 31u);
  auto bad = v;
  bad[8] = std::byte{32};  // slot beyond the 32-bit word
  BOOST_CHECK_EXCEPTION(ctl::decode_event_reply(bad), Error, protocol_error);
  bad = v;
  bad[12] = std::byte{1};
  BOOST_CHECK_EXCEPTION(ctl::decode_event_reply(bad), Error, protocol_error);
  bad = v;
  bad[4] = std::byte{1};
  BOOST_CHECK_EXCEPTION(ctl::decode_event_reply(bad), Error, protocol_error);
  bad = v;
  bad.push_back(std::byte{0});
  BOOST_CHECK_EXCEPTION(ctl::decode_event_reply(bad), Error, protocol_error);
  bad = v;
  bad[6] = std::byte{2};  // an ACCEPT type is no answer to FD_REQUEST
  BOOST_CHECK_EXCEPTION(ctl::decode_event_reply(bad), Error, protocol_error);
  ctl::Refuse refuse;
  refuse.code = ctl::RefuseCode::no_such_channel;
  refuse.reason = "none";
  const auto rd = ctl::decode_event_reply(ctl::encode_refuse(refuse));
  BOOST_REQUIRE(std::holds_alternative<ctl::Refuse>(rd));
  BOOST_TEST((std::get<ctl::Refuse>(rd).code == ctl::RefuseCode::no_such_channel));
  BOOST_TEST(std::string(ctl::to_string(ctl::RefuseCode::no_event_slot)) == "no_event_slot");
}
