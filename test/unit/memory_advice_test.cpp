// SegmentOptions::memory: pre-faulting, huge-page advice and mlock, on every backend.
#define BOOST_TEST_MODULE memory_advice
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <vector>

#include "backends.hpp"
#include "child_process.hpp"
#include "expect_errc.hpp"
#include "platform.hpp"
#include "printing.hpp"
#include "shmkit/segment.hpp"

using namespace shmkit;
using namespace shmkit::test;
namespace bdata = boost::unit_test::data;

namespace fixtures {

// Pages of [p, p+n) present in this process's page tables (/proc/self/pagemap, bit 63). Not
// mincore() where there is a pagemap: on a regular file (the file backend) mincore reports the
// file's page cache, which read-ahead and create()'s msync fill without this process mapping a page.
std::size_t resident_pages(const void* p, std::size_t n) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::vector<unsigned char> v((n + page - 1) / page);
    if (::mincore(const_cast<void*>(p), n, v.data()) != 0) return 0;
    std::size_t r = 0;
    for (unsigned char c : v) r += c & 1;
    return r;
  }
  std::vector<std::uint64_t> entries((n + page - 1) / page);
  const auto first = static_cast<off_t>(reinterpret_cast<std::uintptr_t>(p) / page * sizeof(std::uint64_t));
  const ssize_t got = ::pread(fd, entries.data(), entries.size() * sizeof(std::uint64_t), first);
  ::close(fd);
  if (got != static_cast<ssize_t>(entries.size() * sizeof(std::uint64_t))) return 0;
  std::size_t r = 0;
  for (std::uint64_t e : entries) r += (e >> 63) & 1;
  return r;
}

struct Removal {
  std::string name;
  Backend backend;
  ~Removal() { Segment::remove(name, backend); }
};

}  // namespace fixtures
using namespace fixtures;

BOOST_DATA_TEST_CASE(prefault_maps_every_page, bdata::make(test_backends()), backend) {
  constexpr std::size_t kSize = 8 << 20;
  Removal r{unique_name("shmkit-advice", backend), backend};
  SegmentOptions o = options_for(backend);
  Segment plain = Segment::create(r.name, kSize, o);
  const std::byte* base = reinterpret_cast<const std::byte*>(&plain.manager()) - 4096;
  BOOST_TEST(!plain.memory_advice().prefault);
  BOOST_TEST(resident_pages(base, kSize) < kSize / 4096 / 2);  // a fresh segment is mostly untouched

  o.memory.prefault = true;
  o.memory.huge_pages = true;
  Segment view = Segment::open(r.name, o);
  const std::byte* vbase = reinterpret_cast<const std::byte*>(&view.manager()) - 4096;
  BOOST_TEST(view.memory_advice().prefault);
  BOOST_TEST(resident_pages(vbase, kSize) == kSize / 4096);
  view.construct<int>("still-works", 1);
  BOOST_TEST(*plain.find<int>("still-works") == 1);  // touching pages changed nothing
}

BOOST_DATA_TEST_CASE(lock_holds_pages_in_ram, bdata::make(test_backends()), backend) {
  Removal r{unique_name("shmkit-advice", backend), backend};
  SegmentOptions o = options_for(backend);
  o.memory.lock = true;
  if (!kLinuxPlatform) {
    // No mlock wiring: refused, and the segment create() made is gone again.
    expect_errc(Errc::unsupported, [&] { (void)Segment::create(r.name, 1 << 20, o); });
    expect_errc(Errc::not_found, [&] { (void)Segment::open(r.name, options_for(backend)); });
    return;
  }
  Segment s = Segment::create(r.name, 1 << 20, o);
  BOOST_TEST(s.memory_advice().lock);
  BOOST_TEST(s.memory_advice().prefault);
}

BOOST_AUTO_TEST_CASE(refused_lock_is_resource_limit_and_leaves_nothing) {
  if (!kLinuxPlatform) return;  // no mlock there: lock_holds_pages_in_ram checks the refusal
  // A child without CAP_IPC_LOCK (uid nobody) and a 64 KiB RLIMIT_MEMLOCK asks to lock 8 MiB.
  const std::string name = unique_name("shmkit-advice");
  const pid_t pid = ::fork();
  if (pid == 0) {
    rlimit lim{64 * 1024, 64 * 1024};
    if (::setrlimit(RLIMIT_MEMLOCK, &lim) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    SegmentOptions o;
    o.backend = Backend::named;
    o.memory.lock = true;
    int code = 11;
    try {
      Segment::create(name, 8 << 20, o);
    } catch (const Error& e) {
      const bool says_limit = std::string(e.what()).find("RLIMIT_MEMLOCK is 65536 bytes") != std::string::npos;
      code = e.errc() == Errc::resource_limit && says_limit ? 0 : 12;
    }
    ::_exit(code);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  BOOST_TEST(::access(("/dev/shm/" + name).c_str(), F_OK) != 0);  // nothing half-created is left
  Segment::remove(name);
}
