// adopt_memfd: a memfd segment handed to another process by the application's own means (here:
// fd inheritance across exec), with no ControlServer serving it. And what is not a shmkit memfd
// segment (other kinds of fd, unsealed memfds, wrong sizes, bad headers) is a typed Error.
#define BOOST_TEST_MODULE memfd_adopt
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../helpers/memfd_test_types.hpp"
#include "backends.hpp"
#include "child_process.hpp"
#include "printing.hpp"
#include "segment_header.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/segment_view.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// An fd this test owns: closed when it goes out of scope.
struct Fd {
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

SegmentOptions creator_options() {
  SegmentOptions o = options_for(Backend::memfd);
  o.serve_on_thread = false;  // nobody ever calls handle_events(): the server serves no one
  return o;
}

// The creator's object: values the child checks.
void fill_record(Segment& seg) {
  AdoptRecord& r = seg.construct<AdoptRecord>("record");
  for (std::size_t i = 0; i < kAdoptValues; ++i) r.values[i] = adopt_value(i);
}

// A dup of the segment's memfd that a child inherits across exec (FD_CLOEXEC cleared).
Fd inheritable_dup(const Segment& seg) {
  const MemfdHandle* h = seg.handle<MemfdHandle>();
  BOOST_REQUIRE(h != nullptr);
  Fd d(::dup(h->fd()));
  BOOST_REQUIRE(d.fd >= 0);
  BOOST_REQUIRE(::fcntl(d.fd, F_SETFD, 0) == 0);
  BOOST_REQUIRE((::fcntl(d.fd, F_GETFD) & FD_CLOEXEC) == 0);
  return d;
}

ExitStatus run_adopting_child(const Fd& handed, const std::string& name) {
  ChildProcess child(helper_path("shmkit-test-memfd-helper"), {"adopt", std::to_string(handed.fd), name});
  return child.wait(60s);
}

// What the child wrote, seen through `seg` (another mapping of the same memfd).
void check_child_writes(Segment& seg) {
  AdoptRecord* r = seg.find<AdoptRecord>("record");
  BOOST_REQUIRE(r != nullptr);
  BOOST_TEST(r->magic == kAdoptMagic);
  BOOST_TEST(r->child_pid.load() > 0);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < kAdoptValues; ++i) wrong += r->values[i] != adopted_value(i);
  BOOST_TEST(wrong == 0u);
  AdoptedItems* items = seg.find<AdoptedItems>("from-child");
  BOOST_REQUIRE(items != nullptr);
  BOOST_REQUIRE(items->size() == kAdoptedItems);
  wrong = 0;
  for (std::size_t i = 0; i < kAdoptedItems; ++i) wrong += (*items)[i] != adopted_value(i);
  BOOST_TEST(wrong == 0u);
}

bool socket_file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

template <class F>
Errc error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE(to_string(e.errc()) << ": " << e.what());
    return e.errc();
  }
  return Errc::ok;
}

// ---- Fds that are not shmkit memfd segments ----

// A memfd of `bytes` (copied, then zero-filled to `size`), sealed with `seals` (0: none).
Fd make_memfd(std::size_t size, const std::vector<std::byte>& bytes, int seals, bool allow_sealing = true) {
  Fd m(::memfd_create("shmkit-test-adopt", MFD_CLOEXEC | (allow_sealing ? MFD_ALLOW_SEALING : 0u)));
  BOOST_REQUIRE(m.fd >= 0);
  BOOST_REQUIRE(::ftruncate(m.fd, static_cast<off_t>(size)) == 0);
  const std::size_t n = std::min(size, bytes.size());
  if (n > 0) BOOST_REQUIRE(::pwrite(m.fd, bytes.data(), n, 0) == static_cast<ssize_t>(n));
  if (seals != 0) BOOST_REQUIRE(::fcntl(m.fd, F_ADD_SEALS, seals) == 0);
  return m;
}

constexpr int kFullSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

// Every byte of a live segment (header, manager, objects).
std::vector<std::byte> image_of(const Segment& seg) {
  const auto* base = reinterpret_cast<const std::byte*>(&seg.manager()) - detail::kManagerOffset;
  return std::vector<std::byte>(base, base + seg.size());
}

// A regular file in the temp directory holding `bytes`, removed afterwards.
struct TempFile {
  explicit TempFile(const std::vector<std::byte>& bytes)
      : path((fs::temp_directory_path() / (unique_name("shmkit-adopt-file") + ".bin")).string()) {
    Fd f(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    BOOST_REQUIRE(f.fd >= 0);
    if (!bytes.empty())
      BOOST_REQUIRE(::pwrite(f.fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  }
  ~TempFile() { ::unlink(path.c_str()); }
  Fd open_rw() const { return Fd(::open(path.c_str(), O_RDWR | O_CLOEXEC)); }
  std::string path;
};

// adopt_memfd and adopt_memfd_read_only of `fd` both refuse it with `want`, and keep no fd.
void expect_refused(const std::string& what, int fd, Errc want) {
  BOOST_TEST_CONTEXT(what) {
    const int fds = open_fd_count();
    BOOST_TEST(error_of([&] { (void)adopt_memfd(fd); }) == want);
    BOOST_TEST(error_of([&] { (void)adopt_memfd_read_only(fd); }) == want);
    BOOST_TEST(open_fd_count() == fds);  // the dup adopt made was closed again
  }
}

}  // namespace

// The creator hands a dup of its memfd to a child and destroys its Segment before the child runs:
// its ControlServer and socket are gone, only the inherited fd keeps the segment. The child
// adopts it, reads the creator's values, writes its own, and gets a const view from an O_RDONLY
// reopen. The creator then adopts its own dup and finds the child's writes.
BOOST_AUTO_TEST_CASE(child_adopts_an_inherited_fd_after_the_creator_is_gone) {
  const std::string name = unique_name("shmkit-adopt");
  std::optional<Segment> creator = Segment::create(name, 1 << 20, creator_options());
  const std::string socket = creator->handle<MemfdHandle>()->socket_path();
  BOOST_REQUIRE(creator->handle<MemfdHandle>()->server() != nullptr);
  fill_record(*creator);
  const Fd handed = inheritable_dup(*creator);
  creator.reset();  // unmapped; the server stopped and took its socket with it

  BOOST_TEST(!socket_file_exists(socket));
  SegmentOptions quick = options_for(Backend::memfd);
  quick.open_timeout = 200ms;
  BOOST_TEST(error_of([&] { (void)Segment::open(name, quick); }) == Errc::not_found);  // nobody serves it

  const ExitStatus st = run_adopting_child(handed, name);
  BOOST_REQUIRE_MESSAGE(st.ok(), "adopting child: " << st.describe());

  Segment again = adopt_memfd(handed.fd);
  BOOST_TEST(again.name() == name);
  check_child_writes(again);
}

// The creator keeps its mapping but never serves (serve_on_thread = false, no handle_events):
// the child's writes through the adopted fd show in the creator's own mapping.
BOOST_AUTO_TEST_CASE(child_adopts_while_the_creator_never_serves) {
  const std::string name = unique_name("shmkit-adopt");
  Segment creator = Segment::create(name, 1 << 20, creator_options());
  fill_record(creator);
  {
    const Fd handed = inheritable_dup(creator);
    const ExitStatus st = run_adopting_child(handed, name);
    BOOST_REQUIRE_MESSAGE(st.ok(), "adopting child: " << st.describe());
  }
  check_child_writes(creator);
  BOOST_TEST(creator.find<AdoptRecord>("record")->values[0] == adopted_value(0));
}

// A positive control for the refusals below: a fully sealed memfd holding an exact copy of a
// memfd segment is adopted (a segment of its own, independent of the original).
BOOST_AUTO_TEST_CASE(sealed_copy_of_a_segment_is_adopted) {
  Segment original = Segment::create(unique_name("shmkit-adopt"), 1 << 20, creator_options());
  fill_record(original);
  const Fd copy = make_memfd(original.size(), image_of(original), kFullSeals);
  Segment adopted = adopt_memfd(copy.fd);
  AdoptRecord* r = adopted.find<AdoptRecord>("record");
  BOOST_REQUIRE(r != nullptr);
  BOOST_TEST(r->values[kAdoptValues - 1] == adopt_value(kAdoptValues - 1));
  r->values[0] = 99;  // its own memory
  BOOST_TEST(original.find<AdoptRecord>("record")->values[0] == adopt_value(0));
  const SegmentView view = adopt_memfd_read_only(copy.fd);
  BOOST_TEST(view.find<AdoptRecord>("record")->values[0] == 99u);
}

BOOST_AUTO_TEST_CASE(fds_that_are_not_memfd_segments_are_refused) {
  Segment memfd_segment = Segment::create(unique_name("shmkit-adopt"), 1 << 20, creator_options());
  fill_record(memfd_segment);
  const std::vector<std::byte> image = image_of(memfd_segment);
  const std::size_t size = image.size();

  BOOST_TEST(error_of([] { (void)adopt_memfd(-1); }) == Errc::invalid_argument);
  BOOST_TEST(error_of([] { (void)adopt_memfd_read_only(-1); }) == Errc::invalid_argument);

  // Not a file at all.
  int pipe_fds[2];
  BOOST_REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  const Fd pipe_r(pipe_fds[0]), pipe_w(pipe_fds[1]);
  expect_refused("a pipe", pipe_r.fd, Errc::invalid_argument);
  int pair[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  const Fd sock_a(pair[0]), sock_b(pair[1]);
  expect_refused("a socket", sock_a.fd, Errc::invalid_argument);
  const Fd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  expect_refused("/dev/null", dev_null.fd, Errc::invalid_argument);
  const Fd dir(::open(fs::temp_directory_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  expect_refused("a directory", dir.fd, Errc::invalid_argument);

  // Regular files, even one holding a segment's exact bytes: a memfd is what was promised.
  const TempFile empty({});
  expect_refused("an empty regular file", empty.open_rw().fd, Errc::invalid_argument);
  const TempFile copy_on_disk(image);
  expect_refused("a regular file holding a segment image", copy_on_disk.open_rw().fd, Errc::protocol_error);
  {
    // A named segment's /dev/shm object: tmpfs, seals and all, but it has a name.
    const std::string named = unique_name("shmkit-adopt-named");
    Segment n = Segment::create(named, 1 << 20, options_for(Backend::named));
    const Fd shm(::open(("/dev/shm/" + named).c_str(), O_RDWR | O_CLOEXEC));
    BOOST_REQUIRE(shm.fd >= 0);
    expect_refused("a named segment's /dev/shm object", shm.fd, Errc::protocol_error);
    // Its bytes in a properly sealed memfd: the header says named, not memfd.
    const Fd named_image = make_memfd(n.size(), image_of(n), kFullSeals);
    expect_refused("a sealed memfd holding a named segment's image", named_image.fd, Errc::corrupt);
    Segment::remove(named, Backend::named);
  }

  // memfds that could be shrunk under the mapping.
  expect_refused("a memfd without MFD_ALLOW_SEALING", make_memfd(size, image, 0, false).fd, Errc::protocol_error);
  expect_refused("a memfd without seals", make_memfd(size, image, 0).fd, Errc::protocol_error);
  expect_refused("a memfd without F_SEAL_SEAL", make_memfd(size, image, F_SEAL_SHRINK | F_SEAL_GROW).fd,
                 Errc::protocol_error);
  expect_refused("a memfd without F_SEAL_SHRINK", make_memfd(size, image, F_SEAL_GROW | F_SEAL_SEAL).fd,
                 Errc::protocol_error);
  // Growing is harmless (nobody maps or touches more than the header's sizes): a memfd that
  // could grow is accepted, as for segments made to grow.
  {
    Fd growable = make_memfd(size, image, F_SEAL_SHRINK | F_SEAL_SEAL);
    BOOST_TEST(adopt_memfd_read_only(growable.fd).size() == size);
  }

  // Sealed memfds of the wrong size or with a bad header.
  expect_refused("100 bytes", make_memfd(100, {}, kFullSeals).fd, Errc::too_small);
  expect_refused("one zeroed page", make_memfd(4096, {}, kFullSeals).fd, Errc::too_small);
  expect_refused("the first half of a segment", make_memfd(size / 2, image, kFullSeals).fd, Errc::too_small);
  expect_refused("a segment with 1 MiB of zeros appended", make_memfd(2 * size, image, kFullSeals).fd,
                 Errc::corrupt);
  expect_refused("1 MiB of zeros", make_memfd(size, {}, kFullSeals).fd, Errc::incompatible_format);
  expect_refused("1 MiB of garbage", make_memfd(size, std::vector<std::byte>(size, std::byte{0x5a}), kFullSeals).fd,
                 Errc::incompatible_format);
  {
    std::vector<std::byte> unfinished = image;  // the creator never published it ready
    auto* h = reinterpret_cast<detail::SegmentHeader*>(unfinished.data());
    h->state.store(0, std::memory_order_relaxed);
    expect_refused("a segment never finished", make_memfd(size, unfinished, kFullSeals).fd, Errc::corrupt);
    std::vector<std::byte> scribbled = image;
    reinterpret_cast<detail::SegmentHeader*>(scribbled.data())->manager_offset = 8;
    expect_refused("a segment with a scribbled header", make_memfd(size, scribbled, kFullSeals).fd, Errc::corrupt);
  }

  // A segment sealed against writing is a view, never a writable segment.
  {
    const Fd write_sealed = make_memfd(size, image, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    BOOST_TEST(error_of([&] { (void)adopt_memfd(write_sealed.fd); }) == Errc::permission_denied);
    const SegmentView view = adopt_memfd_read_only(write_sealed.fd);
    BOOST_TEST(view.find<AdoptRecord>("record")->values[1] == adopt_value(1));
  }
  // An fd number that is not open: invalid_argument ("is not open"), as for fd -1.
  const int closed = ::dup(dev_null.fd);
  BOOST_REQUIRE(closed >= 0);
  ::close(closed);
  BOOST_TEST(error_of([&] { (void)adopt_memfd(closed); }) == Errc::invalid_argument);
  BOOST_TEST(error_of([&] { (void)adopt_memfd_read_only(closed); }) == Errc::invalid_argument);
}
