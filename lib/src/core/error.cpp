#include "shmkit/error.hpp"

#include <cerrno>
#include <cstring>

namespace shmkit {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "shmkit"; }
  std::string message(int value) const override { return to_string(static_cast<Errc>(value)); }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), error_category()}; }

const char* to_string(Errc e) noexcept {
  switch (e) {
    case Errc::ok: return "ok";
    case Errc::already_exists: return "already_exists";
    case Errc::not_found: return "not_found";
    case Errc::too_small: return "too_small";
    case Errc::out_of_memory: return "out_of_memory";
    case Errc::incompatible_format: return "incompatible_format";
    case Errc::corrupt: return "corrupt";
    case Errc::permission_denied: return "permission_denied";
    case Errc::timeout: return "timeout";
    case Errc::owner_died: return "owner_died";
    case Errc::not_recoverable: return "not_recoverable";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::busy: return "busy";
    case Errc::protocol_error: return "protocol_error";
    case Errc::refused: return "refused";
    case Errc::peer_gone: return "peer_gone";
    case Errc::resource_limit: return "resource_limit";
    case Errc::unsupported: return "unsupported";
    case Errc::closed: return "closed";
    case Errc::system: return "system";
    case Errc::type_mismatch: return "type_mismatch";
  }
  return "unknown";
}

Error::Error(Errc code, const std::string& message)
    : std::system_error(make_error_code(code), message) {}

Error::Error(Errc code, const std::string& message, int os_errno)
    : std::system_error(make_error_code(code), message + " (" + std::strerror(os_errno) + ")"),
      os_error_(os_errno, std::generic_category()) {}

std::string Error::message() const {
  std::string m = what();
  const std::string suffix = std::string(": ") + to_string(errc());
  if (m.size() >= suffix.size() && m.compare(m.size() - suffix.size(), suffix.size(), suffix) == 0)
    m.resize(m.size() - suffix.size());
  return m;
}

Errc errc_from_errno(int os_errno) noexcept {
  switch (os_errno) {
    case EEXIST: return Errc::already_exists;
    case ENOENT: return Errc::not_found;
    case EACCES:
    case EPERM: return Errc::permission_denied;
    case ENOMEM:
    case ENOSPC: return Errc::out_of_memory;
    case EMFILE:
    case ENFILE:
    case EFBIG:
    case EAGAIN: return Errc::resource_limit;
    case ETIMEDOUT: return Errc::timeout;
    case EINVAL:
    case ENAMETOOLONG: return Errc::invalid_argument;
    case EPIPE:
    case ECONNRESET:
    case ECONNREFUSED: return Errc::peer_gone;
    case ENOSYS:
    case EOPNOTSUPP: return Errc::unsupported;
    case EBUSY:
    case EADDRINUSE: return Errc::busy;
    default: return Errc::system;
  }
}

void throw_os_error(const std::string& what, int os_errno) {
  throw Error(errc_from_errno(os_errno), what, os_errno);
}

}  // namespace shmkit
