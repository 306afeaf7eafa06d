// Must compile warning-free under -Wall -Wextra -Werror: every options and config struct of the
// public API initialised with designated initializers naming only some of its members (a member
// without a default would warn "missing initializer"). Also the typed channel API's spelling.
#include <chrono>
#include <cstdint>

#include "shmkit/shmkit.hpp"

struct Tick {
  std::int64_t ts;
  double price;
};

void spelled_like_the_docs(shmkit::Segment& segment) {
  shmkit::ReaderOptions reader{.start = shmkit::StartAt::next};
  shmkit::ReaderOptions blocking{.wait = shmkit::WaitStrategy::block(), .register_reader = false};
  shmkit::WriterOptions writer{.wait = shmkit::WaitStrategy::busy_poll()};
  shmkit::WriterOptions detaching{.detach_after = std::chrono::milliseconds(500)};
  shmkit::ReaderOptions lossless{.delivery = shmkit::Delivery::lossless, .on_detach = shmkit::OnDetach::fail};
  shmkit::ChannelConfig config{.slots = 64, .max_frame = sizeof(Tick)};
  shmkit::ChannelConfig checked{.checksum = shmkit::Checksum::crc32c};
  shmkit::WaitStrategy wait{.kind = shmkit::WaitKind::block};
  shmkit::MemoryAdvice memory{.prefault = true};
  shmkit::SegmentOptions options{.backend = shmkit::Backend::automatic};
  shmkit::SegmentOptions file{.backend = shmkit::Backend::file, .permissions = 0640, .memory = {.lock = false}};
  shmkit::ControlServerOptions control{.abstract_namespace = true};
  (void)blocking; (void)writer; (void)detaching; (void)lossless; (void)checked; (void)wait; (void)memory; (void)options; (void)file; (void)control;

  auto w = shmkit::BroadcastWriter::create(segment, "ticks", config);
  w.publish(Tick{1, 2.5});
  auto loan = w.loan<Tick>();
  loan->price = 3.5;
  loan.publish();
  shmkit::BroadcastReader r(segment, "ticks", reader);
  if (auto t = r.try_read<Tick>()) (void)t->price;
  if (auto t = r.read<Tick>(std::chrono::milliseconds(1))) (void)t.value().ts;
}
