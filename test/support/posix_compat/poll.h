/* Windows builds of the tests only (test/CMakeLists.txt puts this directory on their include
 * path): Windows has no <poll.h>. It declares nothing: the tests that call poll() (on
 * BroadcastReader/QueueReader::notification_fd(), Error(unsupported) on Windows) are compiled
 * out there with #if !defined(_WIN32); the include alone must not stop the rest from building. */
#pragma once
