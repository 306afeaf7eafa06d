// A shmkit broadcast reader inside a Boost.Asio event loop (Linux, memfd segments): one
// io_context, one thread, two descriptors:
//   - notification_fd(): the channel writer's own eventfd, received over the segment's control
//     socket; readable when frames arrive or the writer closes;
//   - writer_hangup_fd(): the control connection it came over; readable (EOF) once the writer's
//     process is gone, since the server never sends anything on it.
// Usage: shmkit-example-asio-reader <control-socket> <channel> [frames]
//   e.g. shmkit-example-asio-reader $XDG_RUNTIME_DIR/shmkit/shmkit-demo.sock sensors
// Prints what it received and how many threads its process had (one: no notification thread).
// Exit: 0 after the writer closed (or `frames` frames), 3 when the writer's process died.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "shmkit/memfd_handle.hpp"
#include "shmkit/shmkit.hpp"

namespace asio = boost::asio;

namespace {

int threads_of_this_process() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <control-socket> <channel> [frames]\n", argv[0]);
    return 2;
  }
  const std::uint64_t limit = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  try {
    shmkit::Segment segment = shmkit::attach_memfd(argv[1]);
    shmkit::BroadcastReader reader(segment, argv[2], {.start = shmkit::StartAt::oldest});

    asio::io_context io;
    // The descriptors belong to the reader: release() them before the stream_descriptors go.
    asio::posix::stream_descriptor frames(io, reader.notification_fd());
    std::optional<asio::posix::stream_descriptor> hangup;
    if (reader.writer_hangup_fd() >= 0) hangup.emplace(io, reader.writer_hangup_fd());

    std::vector<std::byte> buffer(reader.max_frame());
    std::uint64_t delivered = 0;
    int threads = threads_of_this_process();
    const char* outcome = "stopped";
    int rc = 0;

    std::function<void(const boost::system::error_code&)> on_frames = [&](const boost::system::error_code& ec) {
      if (ec) return;
      reader.clear_notification();  // first, then drain: a frame published meanwhile wakes us again
      shmkit::ReadResult r;
      while ((r = reader.try_read(buffer))) {
        ++delivered;  // use r.data here
        if (limit != 0 && delivered == limit) {
          outcome = "count reached";
          io.stop();
          return;
        }
      }
      // timeout: drained, and the empty try_read re-armed the fd. Anything else ends the stream.
      if (r.status == shmkit::Errc::closed) {
        outcome = "writer closed the channel";
        io.stop();
        return;
      }
      if (r.status == shmkit::Errc::peer_gone) {
        outcome = "writer died";
        rc = 3;
        io.stop();
        return;
      }
      threads = std::max(threads, threads_of_this_process());
      frames.async_wait(asio::posix::stream_descriptor::wait_read, on_frames);
    };
    frames.async_wait(asio::posix::stream_descriptor::wait_read, on_frames);
    if (hangup)
      hangup->async_wait(asio::posix::stream_descriptor::wait_read, [&](const boost::system::error_code& ec) {
        if (ec) return;
        shmkit::ReadResult r;  // what the writer published before it died still counts
        while ((r = reader.try_read(buffer))) ++delivered;
        outcome = "writer died";
        rc = 3;
        io.stop();
      });
    // After the writer closes, the reader may start a thread to follow a writer that attaches
    // later: what counts is the kind while frames stream.
    const bool uses_thread = reader.notification_uses_thread();
    std::printf("asio reader: reading channel '%s' (notification: %s)\n", argv[2],
                uses_thread ? "thread" : "writer's eventfd");
    std::fflush(stdout);
    io.run();
    (void)frames.release();
    if (hangup) (void)hangup->release();

    std::printf("asio reader: %s: delivered %llu, lost %llu, threads %d, notification %s\n", outcome,
                static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(reader.lost()), threads,
                uses_thread ? "thread" : "writer's eventfd");
    return rc;
  } catch (const shmkit::Error& e) {
    std::fprintf(stderr, "asio reader: %s\n", e.what());
    return 1;
  }
}
