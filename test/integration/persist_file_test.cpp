// The file backend across real processes: data outlives every process, a kill -9 is reported
// at the next open, bad files are refused with typed errors, stale locks never hang an open.
#define BOOST_TEST_MODULE persist_file
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "../helpers/persist_types.hpp"
#include "child_process.hpp"
#include "await.hpp"
#include "file_state.hpp"
#include "platform.hpp"
#include "segment_header.hpp"
#include "shmkit/file_session.hpp"
#include "shmkit/containers.hpp"
#include "shmkit/segment_directory.hpp"
#include "shmkit/segment_view.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

SegmentOptions file_options() {
  SegmentOptions o;
  o.backend = Backend::file;
  return o;
}

struct TempFile {
  TempFile() : path((fs::temp_directory_path() / unique_name("shmkit-file")).string()) {}
  ~TempFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
  std::string path;
};

ChildProcess helper(const std::string& command, const std::string& path, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{command, "file", path};
  args.insert(args.end(), extra.begin(), extra.end());
  return ChildProcess(helper_path("shmkit-test-persist-helper"), args);
}

void run_helper(const std::string& command, const std::string& path, std::vector<std::string> extra = {}) {
  ChildProcess c = helper(command, path, std::move(extra));
  const ExitStatus st = c.wait(std::chrono::minutes(2));
  BOOST_TEST(st.ok(), command << ": " << st.describe());
}

Errc open_error(const std::string& path) {
  try {
    Segment s = Segment::open(path, file_options());
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE("open refused: " << to_string(e.errc()) << ": " << e.what());
    return e.errc();
  }
  return Errc::ok;
}

void write_at(const std::string& path, std::size_t offset, const void* bytes, std::size_t n) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::pwrite(fd, bytes, n, static_cast<off_t>(offset)) == static_cast<ssize_t>(n));
  ::close(fd);
}

// Pretends the file was last used on another boot (as after a reboot).
void fake_other_boot(const std::string& path) {
  std::uint8_t other[16];
  std::memset(other, 0xAB, sizeof other);
  write_at(path, offsetof(detail::SegmentHeader, backend_state) + offsetof(detail::FileState, boot_id), other, sizeof other);
}

// The file's header page (its FileState included) as it is on disk now.
std::vector<char> header_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes(detail::kManagerOffset);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(in.good());
  return bytes;
}

void copy_file_bytes(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  BOOST_REQUIRE(out.good());
}

constexpr std::uint64_t kNumbers = 5000;

}  // namespace

BOOST_AUTO_TEST_CASE(data_survives_every_process_exiting) {
  TempFile f;
  {
    Segment seg = Segment::create(f.path, 1 << 20, file_options());
    BOOST_TEST((seg.backend() == Backend::file));
    BOOST_TEST(seg.handle<FileSession>()->opened_clean());
    const SegmentInfo info = seg.info();
    BOOST_TEST(info.sessions == 1u);
    BOOST_TEST(info.attached == 1u);
  }
  run_helper("file-fill", f.path, {std::to_string(kNumbers)});
  run_helper("file-check", f.path, {std::to_string(kNumbers), "clean"});

  Segment seg = Segment::open(f.path, file_options());
  SegmentInfo info = seg.info();
  BOOST_TEST(info.opened_clean);
  BOOST_TEST(!info.opened_after_reboot);
  BOOST_TEST(info.sessions == 4u);  // create, fill, check, this open
  BOOST_TEST(info.unclean_sessions == 0u);
  auto* numbers = seg.find<shmkit::vector<std::uint64_t>>("numbers");
  BOOST_REQUIRE(numbers != nullptr);
  BOOST_TEST(numbers->size() == kNumbers);
  BOOST_TEST((*numbers)[kNumbers - 1] == file_value(kNumbers - 1));
  seg.flush(Flush::async);
  seg.flush();

  // A process that opens while this one has it joins the session instead of starting one.
  run_helper("file-check", f.path, {std::to_string(kNumbers), "clean"});
  info = seg.info();
  BOOST_TEST(info.sessions == 4u);
  BOOST_TEST(info.attached == 1u);
}

BOOST_AUTO_TEST_CASE(kill_minus_9_mid_update_is_reported_unclean) {
  TempFile f;
  Segment::create(f.path, 1 << 20, file_options());
  run_helper("file-fill", f.path, {std::to_string(kNumbers)});
  ChildProcess writer = helper("file-update-forever", f.path);
  {
    Segment watch = Segment::open(f.path, file_options());
    auto* r = watch.find<FileRecord>("record");
    BOOST_REQUIRE(r != nullptr);
    BOOST_REQUIRE(await([&] { return r->updates.load() > 1000; }));
  }  // this process closes in good order; the writer is still mid-update
  writer.kill(SIGKILL);
  const ExitStatus st = writer.wait(30s);
  BOOST_TEST(st.signal == SIGKILL);

  // A new process, alone with the file, is told; what was written before the kill is intact.
  run_helper("file-check", f.path, {std::to_string(kNumbers), "unclean"});
  // That process closed in good order: the next session is clean again, the count remembers.
  run_helper("file-check", f.path, {std::to_string(kNumbers), "clean"});
  Segment seg = Segment::open(f.path, file_options());
  const SegmentInfo info = seg.info();
  BOOST_TEST(info.opened_clean);
  BOOST_TEST(info.unclean_sessions == 1u);
  auto* r = seg.find<FileRecord>("record");
  BOOST_REQUIRE(r != nullptr);
  BOOST_TEST(r->updates.load() > 1000u);
}

BOOST_AUTO_TEST_CASE(truncated_file_is_refused) {
  TempFile f;
  Segment::create(f.path, 1 << 20, file_options());
  fs::resize_file(f.path, 512 * 1024);
  BOOST_TEST(open_error(f.path) == Errc::too_small);
  fs::resize_file(f.path, 3000);
  BOOST_TEST(open_error(f.path) == Errc::too_small);
  fs::resize_file(f.path, 0);
  BOOST_TEST(open_error(f.path) == Errc::too_small);
}

BOOST_AUTO_TEST_CASE(files_not_made_by_shmkit_are_refused) {
  TempFile text;
  {
    std::ofstream out(text.path);
    for (int i = 0; i < 20000; ++i) out << "just some log line " << i << '\n';
  }
  BOOST_TEST(open_error(text.path) == Errc::incompatible_format);

  TempFile zeros;
  { std::ofstream touch(zeros.path); }
  fs::resize_file(zeros.path, 1 << 20);
  BOOST_TEST(open_error(zeros.path) == Errc::incompatible_format);

  BOOST_TEST(open_error(fs::temp_directory_path().string()) == Errc::invalid_argument);  // a directory
}

BOOST_AUTO_TEST_CASE(incompatible_format_is_refused) {
  TempFile f;
  Segment::create(f.path, 1 << 20, file_options());
  const std::uint32_t future = detail::kFormatVersion + 1;
  write_at(f.path, offsetof(detail::SegmentHeader, format_version), &future, sizeof future);
  BOOST_TEST(open_error(f.path) == Errc::incompatible_format);
}

BOOST_AUTO_TEST_CASE(create_open_remove_lifecycle) {
  TempFile f;
  BOOST_TEST(open_error(f.path) == Errc::not_found);
  Segment seg = Segment::create(f.path, 1 << 20, file_options());
  BOOST_CHECK_EXCEPTION(Segment::create(f.path, 1 << 20, file_options()), Error,
                        [](const Error& e) { return e.errc() == Errc::already_exists; });
  Segment again = Segment::open_or_create(f.path, 1 << 20, file_options());
  BOOST_TEST(again.info().attached == 2u);
  BOOST_CHECK_EXCEPTION(Segment::create(f.path + "-small", 1000, file_options()), Error,
                        [](const Error& e) { return e.errc() == Errc::too_small; });
  BOOST_TEST(Segment::remove(f.path, Backend::file));
  BOOST_TEST(!Segment::remove(f.path, Backend::file));
  // Removing the name leaves existing mappings working.
  seg.construct<int>("still-here", 7);
  BOOST_TEST(*again.find<int>("still-here") == 7);
  // No private build file is left next to it.
  const fs::path dir = fs::path(f.path).parent_path();
  for (const auto& entry : fs::directory_iterator(dir))
    BOOST_TEST(entry.path().filename().string().find(fs::path(f.path).filename().string() + ".shmkit-new") ==
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(file_from_another_boot_opens_and_reports_it) {
  if (!kLinuxPlatform) return;  // no boot id there: a reboot cannot be told (docs/platforms.md)
  TempFile f;
  {
    Segment seg = Segment::create(f.path, 1 << 20, file_options());
    seg.construct<int>("answer", 42);
  }
  fake_other_boot(f.path);
  {
    Segment seg = Segment::open(f.path, file_options());
    const SegmentInfo info = seg.info();
    BOOST_TEST(info.opened_after_reboot);
    BOOST_TEST(info.opened_clean);
    BOOST_TEST(*seg.find<int>("answer") == 42);
    seg.construct<int>("after-reboot", 1);  // the allocator's locks work
  }
  Segment seg = Segment::open(f.path, file_options());
  BOOST_TEST(!seg.info().opened_after_reboot);  // this boot is recorded now
  BOOST_TEST(*seg.find<int>("after-reboot") == 1);
}

// A power cut while a process is inside the allocator: the file's image has the manager's lock
// word held by a thread that will never exist again. Opening it must not hang: the lock is
// re-created and the allocator reported suspect (Error(corrupt)), as for a process killed there.
// Lookups read the object directory, not the allocator: the data stays readable.
BOOST_AUTO_TEST_CASE(stale_held_manager_lock_never_hangs_open) {
  TempFile f, image_other_boot, image_same_boot;
  Segment seg = Segment::create(f.path, 1 << 20, file_options());
  auto& record = seg.construct<FileRecord>("record");
  ChildProcess holder = helper("file-hold-manager-lock", f.path);
  BOOST_REQUIRE(await([&] { return record.child_state.load() == 2; }));
  copy_file_bytes(f.path, image_other_boot.path);
  copy_file_bytes(f.path, image_same_boot.path);
  holder.kill(SIGKILL);
  BOOST_TEST(holder.wait(30s).signal == SIGKILL);
  fake_other_boot(image_other_boot.path);

  for (const std::string* image : {&image_other_boot.path, &image_same_boot.path}) {
    BOOST_TEST_CONTEXT("image " << *image) {
      Segment s = Segment::open(*image, file_options());
      const SegmentInfo info = s.info();
      BOOST_TEST(!info.opened_clean);  // two processes had it open when the image was taken
      BOOST_TEST(info.opened_after_reboot == (kLinuxPlatform && image == &image_other_boot.path));
      BOOST_CHECK_EXCEPTION(s.construct<int>("probe", 1), Error,
                            [](const Error& e) { return e.errc() == Errc::corrupt; });
      BOOST_TEST(s.find<FileRecord>("record") != nullptr);
    }
  }
}

// A read-only view of a file segment is a peek: it takes no part in the file's session. A writer
// killed with SIGKILL leaves the file "in use"; peeking at it (three times) sees the data and
// changes nothing, so the next read-write open is still told the last session ended uncleanly.
BOOST_AUTO_TEST_CASE(peeks_after_kill_minus_9_leave_the_crash_report) {
  TempFile f;
  Segment::create(f.path, 1 << 20, file_options());
  run_helper("file-fill", f.path, {std::to_string(kNumbers)});
  ChildProcess writer = helper("file-update-forever", f.path);
  {
    // Watching the writer is a peek too: it must not join the writer's session.
    const SegmentView watch = SegmentView::open(f.path, file_options());
    const FileRecord* r = watch.find<FileRecord>("record");
    BOOST_REQUIRE(r != nullptr);
    BOOST_REQUIRE(await([&] { return r->updates.load() > 1000; }));
    BOOST_TEST(watch.info().attached == 1u);  // the writer only
  }
  writer.kill(SIGKILL);
  BOOST_TEST(writer.wait(30s).signal == SIGKILL);

  const std::vector<char> header_after_kill = header_bytes(f.path);
  for (int peek = 0; peek < 3; ++peek) {
    BOOST_TEST_CONTEXT("peek " << peek) {
      const SegmentView v = SegmentView::open(f.path, file_options());
      const FileSession* session = v.handle<FileSession>();
      BOOST_REQUIRE(session != nullptr);
      BOOST_TEST(session->peek());
      const SegmentInfo info = v.info();
      BOOST_TEST(info.sessions == 3u);  // create, fill, the killed writer: a peek adds none
      BOOST_TEST(info.unclean_sessions == 0u);  // nobody has been told of the kill yet
      BOOST_TEST(info.attached == 1u);  // the killed writer's count stays for the next session
      const auto* numbers = v.find<shmkit::vector<std::uint64_t>>("numbers");
      BOOST_REQUIRE(numbers != nullptr);
      BOOST_TEST(numbers->size() == kNumbers);
      BOOST_TEST((*numbers)[kNumbers - 1] == file_value(kNumbers - 1));
      const auto* greeting = v.find<shmkit::string>("greeting");
      BOOST_REQUIRE(greeting != nullptr);
      BOOST_TEST(std::string_view(greeting->data(), greeting->size()) == "written by another process");
      const FileRecord* r = v.find<FileRecord>("record");
      BOOST_REQUIRE(r != nullptr);
      BOOST_TEST(r->updates.load() > 1000u);
      BOOST_TEST(v.objects().size() == 3u);
    }
  }
  // Byte for byte: the peeks wrote nothing to the header (session counts, boot id, writers).
  BOOST_TEST((header_bytes(f.path) == header_after_kill), "a peek changed the file's header");

  {
    Segment seg = Segment::open(f.path, file_options());
    BOOST_TEST(!seg.handle<FileSession>()->opened_clean());  // the crash report survived the peeks
    BOOST_TEST(!seg.handle<FileSession>()->peek());
    const SegmentInfo info = seg.info();
    BOOST_TEST(!info.opened_clean);
    BOOST_TEST(info.sessions == 4u);
    BOOST_TEST(info.unclean_sessions == 1u);
    BOOST_TEST(info.attached == 1u);  // this process alone: the dead writer's count was cleared
  }
  // Closed in good order; peeks in between still change nothing: the next open is clean.
  for (int peek = 0; peek < 3; ++peek) {
    const SegmentView v = SegmentView::open(f.path, file_options());
    BOOST_TEST(v.handle<FileSession>()->peek());
  }
  Segment seg = Segment::open(f.path, file_options());
  BOOST_TEST(seg.handle<FileSession>()->opened_clean());
  BOOST_TEST(seg.info().sessions == 5u);
  BOOST_TEST(seg.info().unclean_sessions == 1u);
}

// A file whose header says another backend (a named segment's bytes copied to a file, or a
// scribble) is refused as corrupt, by a read-write open and a peek alike.
BOOST_AUTO_TEST_CASE(header_of_another_backend_is_refused) {
  TempFile f;
  { Segment::create(f.path, 1 << 20, file_options()); }
  {
    std::fstream io(f.path, std::ios::in | std::ios::out | std::ios::binary);
    const std::uint32_t named = static_cast<std::uint32_t>(Backend::named);
    io.seekp(offsetof(detail::SegmentHeader, backend));
    io.write(reinterpret_cast<const char*>(&named), sizeof named);
  }
  for (bool peek : {false, true}) {
    try {
      if (peek) (void)SegmentView::open(f.path, file_options());
      else (void)Segment::open(f.path, file_options());
      BOOST_TEST(false, "opened a file whose header says named");
    } catch (const Error& e) {
      BOOST_TEST(e.errc() == Errc::corrupt, e.what());
      BOOST_TEST(std::string(e.what()).find("named") != std::string::npos, e.what());
    }
  }
}

namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A helper stopped for good while formatting a create of `target` (its private file complete).
ChildProcess stopped_creator(const std::string& target, std::size_t size, const std::string& out) {
  ChildProcess c(helper_path("shmkit-test-persist-helper"), {"file-create-stop", "file", target, std::to_string(size)},
                 out);
  BOOST_REQUIRE(await([&] { return file_text(out) == "formatting\n"; }, 30s));
  return c;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

// A create killed with SIGKILL while formatting leaves its private file, fully reserved. It is
// listed with its creator; only once that creator is dead is it stale, and then the next create
// or read-write open of the same path, or remove_if_stale, removes it. A live creator's file is
// never touched.
BOOST_AUTO_TEST_CASE(leftover_of_a_killed_create_is_listed_and_removed) {
  if (!kLinuxPlatform) return;  // the leftover listing reads Linux process start times
  const fs::path dir = fs::temp_directory_path() / unique_name("shmkit-leftovers");
  fs::create_directory(dir);
  struct RemoveDir {
    fs::path p;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{dir};
  const std::string target = (dir / "seg").string();
  const std::size_t size = 8u << 20;

  ChildProcess first = stopped_creator(target, size, (dir / "first.out").string());
  std::vector<SegmentListing> found = list_segments_in(dir.string());
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  const std::string first_file = found[0].location;
  BOOST_TEST(first_file.rfind(target + ".shmkit-new-" + std::to_string(first.pid()) + "-", 0) == 0);
  BOOST_TEST((found[0].backend == Backend::file));
  BOOST_TEST(found[0].size == size);
  BOOST_TEST(found[0].creator_pid == first.pid());
  BOOST_TEST(found[0].creator_alive);
  BOOST_TEST(!found[0].stale);
  BOOST_TEST(!remove_if_stale(first_file, Backend::file));  // its creator lives
  BOOST_TEST(fs::exists(first_file));

  ChildProcess second = stopped_creator(target, size, (dir / "second.out").string());
  first.kill(SIGKILL);
  BOOST_TEST(first.wait(30s).signal == SIGKILL);
  found = list_segments_in(dir.string());
  BOOST_REQUIRE_EQUAL(found.size(), 2u);
  for (const SegmentListing& l : found) {
    const bool is_first = l.location == first_file;
    BOOST_TEST(l.creator_pid == (is_first ? first.pid() : second.pid()));
    BOOST_TEST(l.stale == is_first);
    BOOST_TEST(l.creator_alive == !is_first);
  }
  const std::string second_file = found[0].location == first_file ? found[1].location : found[0].location;

  // Creating the path again removes the dead creator's file, not the live one's.
  {
    Segment seg = Segment::create(target, 1 << 20, file_options());
    seg.construct<int>("answer", 42);
  }
  BOOST_TEST(!fs::exists(first_file));
  BOOST_TEST(fs::exists(second_file));
  BOOST_TEST(*Segment::open(target, file_options()).find<int>("answer") == 42);

  // A read-write open of the path removes it once its creator is dead; a peek changes nothing.
  second.kill(SIGKILL);
  BOOST_TEST(second.wait(30s).signal == SIGKILL);
  found = list_segments_in(dir.string());
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(found[0].stale);
  BOOST_TEST(*SegmentView::open(target, file_options()).find<int>("answer") == 42);
  BOOST_TEST(fs::exists(second_file));
  BOOST_TEST(*Segment::open(target, file_options()).find<int>("answer") == 42);
  BOOST_TEST(!fs::exists(second_file));

  ChildProcess third = stopped_creator(target + "-other", size, (dir / "third.out").string());
  third.kill(SIGKILL);
  BOOST_TEST(third.wait(30s).signal == SIGKILL);
  found = list_segments_in(dir.string());
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(found[0].stale);
  BOOST_TEST(remove_if_stale(found[0].location, Backend::file));
  BOOST_TEST(!remove_if_stale(target, Backend::file));  // a finished segment is never stale
  BOOST_TEST(list_segments_in(dir.string()).empty());
  BOOST_TEST((names_in(dir) == std::vector<std::string>{"first.out", "second.out", "seg", "third.out"}));
}
