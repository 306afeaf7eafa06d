// Listing a directory (internal platform seam; POSIX: platform/posix/directory.cpp).
#pragma once

#include <string>
#include <vector>

namespace shmkit::detail {

enum class HiddenEntries { skip, include };

// The names in `dir` (never "." or ".."; others starting with '.' only if asked); empty if it
// cannot be read.
std::vector<std::string> directory_entries(const std::string& dir, HiddenEntries hidden = HiddenEntries::skip);

}  // namespace shmkit::detail
