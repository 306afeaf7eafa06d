// Typed frames: the error for a frame whose size is not the size of the type asked for.
#include <string>

#include "shmkit/typed_frame.hpp"

namespace shmkit::detail {

void throw_frame_size_mismatch(std::uint64_t sequence, std::size_t frame_size, std::size_t type_size) {
  throw Error(Errc::type_mismatch, "frame " + std::to_string(sequence) + " has " + std::to_string(frame_size) +
                                       " bytes, but read<T>() expects sizeof(T) = " + std::to_string(type_size) +
                                       ": the writer publishes another type (the frame was consumed)");
}

}  // namespace shmkit::detail
