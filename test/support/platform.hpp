// Which platform set the library under test was built with (lib/CMakeLists.txt, SHMKIT_PLATFORM):
// tests whose expectations differ by platform ask this. docs/platforms.md lists the differences.
#pragma once

#include <string_view>

namespace shmkit::test {

// linux: futex, membarrier, robust pthreads, /proc, memfd, mlock, boot id. portable: none of them.
inline constexpr bool kLinuxPlatform = std::string_view(SHMKIT_TEST_PLATFORM) == "linux";

}  // namespace shmkit::test
