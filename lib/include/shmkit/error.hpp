// shmkit::Error: the one exception type shmkit throws.
//
// Every failure carries an Errc (what kind of failure, for code to branch on), a message
// (what was wrong and what to do, for people), and where the cause was an operating-system
// call, the errno it returned (os_error()).
#pragma once

#include <string>
#include <system_error>

namespace shmkit {

enum class Errc : int {
  ok = 0,
  already_exists = 1,        // a segment, socket or named object of that name exists
  not_found = 2,             // no segment, socket or named object of that name
  too_small = 3,             // a size below the minimum, or a mapping smaller than its header says
  out_of_memory = 4,         // the segment has no room left (the segment stays usable)
  incompatible_format = 5,   // made by another shmkit format, layout or Boost version
  corrupt = 6,               // bytes in shared memory or on the socket fail validation
  permission_denied = 7,     // the OS or the peer policy refused access
  timeout = 8,               // a wait ran out of time
  owner_died = 9,            // a lock's holder died; the protected data may need repair
  not_recoverable = 10,      // a lock whose repair was refused; recreate what it protects
  invalid_argument = 11,     // a bad name, size or option passed by the caller
  busy = 12,                 // in use by a live process (e.g. a socket a live server answers on)
  protocol_error = 13,       // the control-channel peer broke the protocol
  refused = 14,              // the control server refused this client (reason in the message)
  peer_gone = 15,            // the other process hung up or died
  resource_limit = 16,       // an rlimit, fd limit or memory limit refused the request
  unsupported = 17,          // the platform or kernel lacks the feature asked for
  closed = 18,               // the other side closed on purpose (e.g. a channel's writer)
  system = 19,               // another operating-system failure: see os_error()
  type_mismatch = 20,        // a named object exists but holds another type than asked for
};

const std::error_category& error_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;

// Short stable name of a code ("out_of_memory"), for logs and JSON.
const char* to_string(Errc e) noexcept;

class Error : public std::system_error {
 public:
  Error(Errc code, const std::string& message);
  // For failures of an OS call: errno goes to os_error() and its text is appended to the message.
  Error(Errc code, const std::string& message, int os_errno);

  Errc errc() const noexcept { return static_cast<Errc>(code().value()); }
  // what() without the code it ends with (": not_found"): for a message that embeds this
  // error's text in another, so that the code is said once.
  std::string message() const;
  // The errno behind the failure, or an empty error_code when there was none.
  std::error_code os_error() const noexcept { return os_error_; }

 private:
  std::error_code os_error_;
};

// The Errc that best describes an errno from a failed system call (ENOENT -> not_found, ...).
Errc errc_from_errno(int os_errno) noexcept;

// Throws Error(errc_from_errno(errno), what, errno).
[[noreturn]] void throw_os_error(const std::string& what, int os_errno);

}  // namespace shmkit

template <>
struct std::is_error_code_enum<shmkit::Errc> : std::true_type {};
