// Lets Boost.Test print shmkit's enums in failed checks ("out_of_memory", not an integer).
#pragma once

#include <ostream>

#include "shmkit/error.hpp"

namespace shmkit {
inline std::ostream& operator<<(std::ostream& os, Errc e) { return os << to_string(e); }
}  // namespace shmkit
