// Builds without the memfd backend (anything but Linux, and SHMKIT_PLATFORM=portable): the
// public memfd API exists everywhere and reports Error(unsupported), never a link error.
#include <algorithm>

#include "shmkit/control_server.hpp"
#include "shmkit/error.hpp"
#include "shmkit/memfd_handle.hpp"

namespace shmkit {
namespace {

constexpr const char* kWhy =
    "the memfd backend needs Linux (memfd_create, file seals, SCM_RIGHTS); this build has none: use "
    "Backend::named or Backend::automatic";

[[noreturn]] void unsupported(const char* what) { throw Error(Errc::unsupported, std::string(what) + ": " + kWhy); }

bool listed(const std::vector<std::uint32_t>& ids, std::uint32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

// Without a server there is no own uid to compare with: only the lists count.
bool AccessPolicy::allows_read_write(std::uint32_t uid, std::uint32_t gid) const {
  return listed(uids, uid) || listed(gids, gid);
}
bool AccessPolicy::allows(std::uint32_t uid, std::uint32_t gid) const {
  return allows_read_write(uid, gid) || listed(read_only_uids, uid) || listed(read_only_gids, gid);
}

struct ControlServer::Impl {};

ControlServer::ControlServer(int, std::uint64_t, std::uint32_t, std::string, ControlServerOptions) {
  unsupported("ControlServer");
}
ControlServer::~ControlServer() = default;
const std::string& ControlServer::socket_path() const { unsupported("ControlServer::socket_path"); }
int ControlServer::fd() const { unsupported("ControlServer::fd"); }
void ControlServer::handle_events() { unsupported("ControlServer::handle_events"); }
void ControlServer::start_thread() { unsupported("ControlServer::start_thread"); }
void ControlServer::stop() {}
std::vector<ControlClientInfo> ControlServer::clients() const { return {}; }
std::string ControlServer::default_socket_path(std::string_view) { unsupported("ControlServer::default_socket_path"); }
bool ControlServer::remove_stale_socket(const std::string&) { return false; }

Segment attach_memfd(std::string_view, const SegmentOptions&) { unsupported("attach_memfd"); }
SegmentView attach_memfd_read_only(std::string_view, const SegmentOptions&) { unsupported("attach_memfd_read_only"); }
Segment adopt_memfd(int, const SegmentOptions&) { unsupported("adopt_memfd"); }
SegmentView adopt_memfd_read_only(int, const SegmentOptions&) { unsupported("adopt_memfd_read_only"); }

}  // namespace shmkit
