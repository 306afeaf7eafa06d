// Must not compile: a typed channel read of a type that is not trivially copyable.
// expect-error: FrameType
#include <chrono>
#include <string>

#include "shmkit/broadcast_channel.hpp"

void read_string(shmkit::BroadcastReader& r) { (void)r.read<std::string>(std::chrono::seconds(1)); }
