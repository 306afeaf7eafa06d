// Listing a directory (internal platform seam; POSIX: platform/posix/directory.cpp).
#pragma once

#include <string>
#include <vector>

namespace shmkit::detail {

// The names in `dir` that do not start with '.'; empty if it cannot be read.
std::vector<std::string> directory_entries(const std::string& dir);

}  // namespace shmkit::detail
