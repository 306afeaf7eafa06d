// Windows error codes as text (internal, Windows only: platform/windows/windows_error.cpp), for
// messages: shmkit::Error's os_error() holds errno values, so a GetLastError() code goes here.
#pragma once

#include <string>

namespace shmkit::detail {

// "Windows error 8: Not enough memory resources are available to process this command"
std::string windows_error_text(unsigned long code);

}  // namespace shmkit::detail
