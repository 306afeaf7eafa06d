// Child process for the control channel tests: a real client in its own process. Usage:
//   shmkit-test-control-helper attach <socket> <marker-hex> <slot>
//       attach, check the u64 marker at offset 0, write our pid to u64 slot 8 + <slot>
//   shmkit-test-control-helper hold <socket> <marker-hex>
//       attach, check the marker, store our pid at u64 1, then wait (30 s guard) until the
//       server hangs up
//   shmkit-test-control-helper expect-error <socket> <errc-name> <text>
//       attach must fail with Error(<errc-name>) whose message contains <text>
// Exit codes: 0 success, 2 data mismatch, 3 unexpected shmkit::Error, 4 usage,
//             5 server never hung up, 6 liveness wrong, 7 attached though an error was expected,
//             8 a different error than expected.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "control_client.hpp"
#include "control_protocol.hpp"
#include <sys/socket.h>
#include <vector>
#include "shmkit/error.hpp"

using namespace shmkit;
namespace ctl = shmkit::detail::control;

namespace {

std::uint64_t* word(detail::AttachedMemfd& a, std::size_t index) {
  return reinterpret_cast<std::uint64_t*>(a.mapping->data()) + index;
}

detail::AttachedMemfd attach(const char* socket) {
  return detail::attach_memfd(socket, detail::deadline_after(std::chrono::seconds(10)));
}

int check_marker(detail::AttachedMemfd& a, const char* marker_hex) {
  const std::uint64_t want = std::strtoull(marker_hex, nullptr, 16);
  if (*word(a, 0) != want) {
    std::fprintf(stderr, "helper: marker %llx, expected %llx\n", static_cast<unsigned long long>(*word(a, 0)),
                 static_cast<unsigned long long>(want));
    return 2;
  }
  return 0;
}

int run(int argc, char** argv) {
  const std::string command = argv[1];
  const char* socket = argv[2];
  if (command == "attach" && argc == 5) {
    auto a = attach(socket);
    if (const int rc = check_marker(a, argv[3]); rc != 0) return rc;
    const auto slot = std::strtoul(argv[4], nullptr, 10);
    if (!a.mapping->writable() || (slot + 9) * 8 > a.mapping->size()) return 2;
    *word(a, 8 + slot) = static_cast<std::uint64_t>(::getpid());
    return 0;
  }
  if (command == "hold" && argc == 4) {
    auto a = attach(socket);
    if (const int rc = check_marker(a, argv[3]); rc != 0) return rc;
    // Tells the parent we hold the mapping now (the server's attach event fires on sending).
    reinterpret_cast<std::atomic<std::uint64_t>*>(word(a, 1))->store(static_cast<std::uint64_t>(::getpid()));
    if (detail::control_peer_gone(a.control_socket.get())) return 6;  // the server is still there
    // The server's hang-up is the event; 30 s only guards against a test that never ends it.
    pollfd p{a.control_socket.get(), POLLRDHUP, 0};
    const int r = ::poll(&p, 1, 30'000);
    if (r == 0) return 5;
    return detail::control_peer_gone(a.control_socket.get()) ? 0 : 6;
  }
  if (command == "expect-error" && argc == 5) {
    try {
      auto a = attach(socket);
    } catch (const Error& e) {
      if (std::strcmp(to_string(e.errc()), argv[3]) == 0 && std::strstr(e.what(), argv[4]) != nullptr) return 0;
      std::fprintf(stderr, "helper: expected %s containing '%s', got %s: %s\n", argv[3], argv[4],
                   to_string(e.errc()), e.what());
      return 8;
    }
    std::fprintf(stderr, "helper: attached, expected error %s\n", argv[3]);
    return 7;
  }
  if (command == "flood" && argc == 5) {
    // Opens n silent connections and keeps them; exactly `refused` of them (the last ones) must
    // be answered and closed by the server within 10 s, the others kept waiting for a HELLO.
    const int n = std::atoi(argv[3]), refused = std::atoi(argv[4]);
    const auto address = ctl::socket_address(socket);
    std::vector<int> socks;
    for (int i = 0; i < n; ++i) {
      const int s = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
      if (s < 0 || ::connect(s, reinterpret_cast<const sockaddr*>(&address.address), address.length) != 0) {
        std::fprintf(stderr, "helper: connect %d failed: %s\n", i, std::strerror(errno));
        return 2;
      }
      socks.push_back(s);
    }
    // The server's answer (REFUSE, then hang-up) is the event; 10 s bounds a server that never answers.
    for (int i = n - refused; i < n; ++i) {
      pollfd p{socks[static_cast<std::size_t>(i)], POLLIN | POLLRDHUP, 0};
      if (::poll(&p, 1, 10'000) != 1) {
        std::fprintf(stderr, "helper: connection %d was not refused within 10 s\n", i);
        return 9;
      }
    }
    for (int i = 0; i < n - refused; ++i) {
      pollfd p{socks[static_cast<std::size_t>(i)], POLLIN | POLLRDHUP, 0};
      if (::poll(&p, 1, 0) != 0) {
        std::fprintf(stderr, "helper: connection %d was answered, expected it kept\n", i);
        return 10;
      }
    }
    return 0;
  }
  std::fprintf(stderr, "helper: bad usage\n");
  return 4;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s attach|hold|expect-error <socket> ...\n", argv[0]);
    return 4;
  }
  try {
    return run(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "helper (pid %d): %s: %s\n", static_cast<int>(::getpid()), to_string(e.errc()), e.what());
    return 3;
  }
}
