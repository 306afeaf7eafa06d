// Windows: no fd an event loop can poll. notification_fd() reports unsupported; use a blocking read on a thread.
#include "channel_internal.hpp"

namespace shmkit::detail {

class Notifier {};

void NotifierDeleter::operator()(Notifier* n) const noexcept { delete n; }

NotifierPtr start_notifier(const ChannelView& view, std::uint64_t, std::chrono::milliseconds) {
  throw Error(Errc::unsupported, "channel '" + view.name +
                                     "': notification_fd() needs a pollable fd (eventfd on Linux, a pipe on other POSIX "
                                     "systems), which Windows lacks: wait with a blocking read() on a thread of your own");
}

int notifier_fd(const Notifier&) noexcept { return -1; }
void notifier_clear(const Notifier&) noexcept {}
bool notifier_saw_dead(const Notifier&) noexcept { return false; }
int notifier_hangup_fd(const Notifier&) noexcept { return -1; }
bool notifier_uses_thread(const Notifier&) noexcept { return false; }
bool notifier_arm(Notifier&) noexcept { return false; }
void notifier_writer_closed(Notifier&) noexcept {}

}  // namespace shmkit::detail
