// memfd platform layer: creation (sealed, anonymous) and validation of received fds.
#define BOOST_TEST_MODULE control_memfd
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "memfd_mapping.hpp"
#include "shmkit/error.hpp"

using namespace shmkit;
using namespace shmkit::test;
using detail::UniqueFd;

namespace {

constexpr std::size_t kSize = 64 * 1024;

std::string fd_link(int fd) {
  char buf[512] = {};
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

std::vector<std::string> dev_shm_entries() {
  std::vector<std::string> out;
  DIR* d = ::opendir("/dev/shm");
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) out.emplace_back(e->d_name);
  ::closedir(d);
  return out;
}

UniqueFd dup_fd(int fd) { return UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

// A memfd sized `size` with exactly `seals` added.
UniqueFd raw_memfd(std::size_t size, int seals) {
  UniqueFd fd(::memfd_create("shmkit-test-raw", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  BOOST_REQUIRE(fd);
  BOOST_REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(size)) == 0);
  if (seals != 0) BOOST_REQUIRE(::fcntl(fd.get(), F_ADD_SEALS, seals) == 0);
  return fd;
}

constexpr int kGoodSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

// Expects map_received_memfd(fd...) to throw `code` mentioning `text`, and the fd to be closed.
void expect_rejected(UniqueFd fd, std::size_t size, bool writable, Errc code, const std::string& text) {
  const int before = open_fd_count();
  BOOST_CHECK_EXCEPTION(detail::map_received_memfd(std::move(fd), size, writable), Error, [&](const Error& e) {
    BOOST_TEST_MESSAGE(e.what());
    return e.errc() == code && std::string(e.what()).find(text) != std::string::npos;
  });
  BOOST_TEST(open_fd_count() == before - 1);  // ownership was taken: the rejected fd is closed
}

}  // namespace

BOOST_AUTO_TEST_CASE(created_memfd_is_sealed_anonymous_and_mapped) {
  const std::string name = unique_name("shmkit-memfd-test");
  auto m = detail::create_memfd_mapping(name, kSize);
  BOOST_TEST(m->size() == kSize);
  BOOST_TEST(m->writable());
  BOOST_TEST(fd_link(m->fd()).rfind("/memfd:" + name, 0) == 0, fd_link(m->fd()));
  BOOST_TEST((::fcntl(m->fd(), F_GETFD) & FD_CLOEXEC) != 0);
  const int seals = ::fcntl(m->fd(), F_GET_SEALS);
  BOOST_TEST((seals & kGoodSeals) == kGoodSeals);
  BOOST_TEST((seals & F_SEAL_WRITE) == 0);
  // Sealed: nobody can shrink or grow it.
  BOOST_TEST(::ftruncate(m->fd(), 4096) != 0);
  BOOST_TEST(::ftruncate(m->fd(), 2 * kSize) != 0);
  // Never a file in /dev/shm. (Only our name is checked: tests running beside this one create
  // and remove named segments there at any time, so the count of entries proves nothing.)
  const auto shm_after = dev_shm_entries();
  for (const auto& e : shm_after) BOOST_TEST(e.find(name) == std::string::npos);
  std::memset(m->data(), 0xAB, kSize);
  BOOST_TEST(std::to_integer<int>(m->data()[kSize - 1]) == 0xAB);
}

BOOST_AUTO_TEST_CASE(created_memfd_is_released_with_the_mapping) {
  const int before = open_fd_count();
  { auto m = detail::create_memfd_mapping("shmkit-test-release", kSize); }
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(received_memfd_maps_the_same_memory) {
  auto m = detail::create_memfd_mapping("shmkit-test-share", kSize);
  auto rw = detail::map_received_memfd(dup_fd(m->fd()), kSize, true);
  auto ro = detail::map_received_memfd(dup_fd(m->fd()), kSize, false);
  BOOST_TEST(rw->writable());
  BOOST_TEST(!ro->writable());
  BOOST_TEST(rw->data() != m->data());
  reinterpret_cast<std::uint64_t*>(m->data())[10] = 0x1122334455667788ULL;
  BOOST_TEST(reinterpret_cast<std::uint64_t*>(rw->data())[10] == 0x1122334455667788ULL);
  reinterpret_cast<std::uint64_t*>(rw->data())[11] = 42;
  BOOST_TEST(reinterpret_cast<std::uint64_t*>(ro->data())[11] == 42u);
}

BOOST_AUTO_TEST_CASE(bad_creation_arguments) {
  auto invalid = [](const Error& e) { return e.errc() == Errc::invalid_argument; };
  BOOST_CHECK_EXCEPTION(detail::create_memfd_mapping("x", 0), Error, invalid);
  BOOST_CHECK_EXCEPTION(detail::create_memfd_mapping(std::string(250, 'n'), kSize), Error, invalid);
  BOOST_CHECK_NO_THROW(detail::create_memfd_mapping(std::string(249, 'n'), kSize));
}

BOOST_AUTO_TEST_CASE(regular_file_is_not_a_memfd) {
  char path[] = "/tmp/shmkit-memfd-test-XXXXXX";
  UniqueFd fd(::mkostemp(path, O_CLOEXEC));
  BOOST_REQUIRE(fd);
  ::unlink(path);
  BOOST_REQUIRE(::ftruncate(fd.get(), kSize) == 0);
  expect_rejected(std::move(fd), kSize, true, Errc::protocol_error, "regular file, not a memfd");
}

BOOST_AUTO_TEST_CASE(pipe_and_socket_are_not_memfds) {
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd write_end(p[1]);
  expect_rejected(UniqueFd(p[0]), kSize, false, Errc::protocol_error, "a pipe");
  int s[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
  UniqueFd other(s[1]);
  expect_rejected(UniqueFd(s[0]), kSize, false, Errc::protocol_error, "a socket");
}

BOOST_AUTO_TEST_CASE(dev_shm_file_is_not_a_memfd) {
  const std::string name = "/" + unique_name("shmkit-memfd-test");
  UniqueFd fd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  BOOST_REQUIRE(fd);
  ::shm_unlink(name.c_str());
  BOOST_REQUIRE(::ftruncate(fd.get(), kSize) == 0);
  // tmpfs files carry F_SEAL_SEAL and cannot get resize seals: rejected for missing seals.
  expect_rejected(std::move(fd), kSize, true, Errc::protocol_error, "needs F_SEAL_SHRINK");
}

BOOST_AUTO_TEST_CASE(memfd_without_shrink_seals_is_rejected) {
  expect_rejected(raw_memfd(kSize, 0), kSize, true, Errc::protocol_error, "could shrink it");
  expect_rejected(raw_memfd(kSize, F_SEAL_SHRINK | F_SEAL_GROW), kSize, true, Errc::protocol_error, "could shrink it");
  expect_rejected(raw_memfd(kSize, F_SEAL_GROW | F_SEAL_SEAL), kSize, true, Errc::protocol_error, "could shrink it");
  // Without F_SEAL_GROW it may grow: accepted (segments made to grow are sealed so).
  auto growable = detail::map_received_memfd(raw_memfd(kSize, F_SEAL_SHRINK | F_SEAL_SEAL), kSize, true);
  BOOST_TEST(growable->size() == kSize);
}

// The announced size is what is mapped (the segment's maximum): the memfd has at most that.
BOOST_AUTO_TEST_CASE(size_is_at_most_the_announced_one) {
  expect_rejected(raw_memfd(4096, kGoodSeals), kSize, true, Errc::too_small, "too small for a segment");
  expect_rejected(raw_memfd(2 * kSize, kGoodSeals), kSize, true, Errc::corrupt, "more than");
  auto ok = detail::map_received_memfd(raw_memfd(kSize, kGoodSeals), kSize, true);
  BOOST_TEST(ok->size() == kSize);
  auto wider = detail::map_received_memfd(raw_memfd(kSize, kGoodSeals), 4 * kSize, true);
  BOOST_TEST(wider->size() == 4 * kSize);
  BOOST_TEST(wider->backing_size() == kSize);
}

BOOST_AUTO_TEST_CASE(write_sealed_or_read_only_fd_cannot_be_mapped_writable) {
  expect_rejected(raw_memfd(kSize, kGoodSeals | F_SEAL_WRITE), kSize, true, Errc::permission_denied,
                  "sealed against writing");
  auto ro = detail::map_received_memfd(raw_memfd(kSize, kGoodSeals | F_SEAL_WRITE), kSize, false);
  BOOST_TEST(!ro->writable());

  UniqueFd memfd = raw_memfd(kSize, kGoodSeals);
  const std::string proc = "/proc/self/fd/" + std::to_string(memfd.get());
  UniqueFd read_only(::open(proc.c_str(), O_RDONLY | O_CLOEXEC));
  BOOST_REQUIRE(read_only);
  expect_rejected(std::move(read_only), kSize, true, Errc::permission_denied, "not opened read-write");
}

BOOST_AUTO_TEST_CASE(missing_fd_and_bad_size_are_invalid_arguments) {
  auto invalid = [](const Error& e) { return e.errc() == Errc::invalid_argument; };
  BOOST_CHECK_EXCEPTION(detail::map_received_memfd(UniqueFd(), kSize, true), Error, invalid);
  BOOST_CHECK_EXCEPTION(detail::map_received_memfd(raw_memfd(kSize, kGoodSeals), 0, true), Error, invalid);
}
