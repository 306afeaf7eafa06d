#include <cstdio>
#include <cstring>

#include "boot_id.hpp"

namespace shmkit::detail {

void current_boot_id(std::uint8_t (&out)[16]) noexcept {
  std::memset(out, 0, sizeof out);
  std::FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "re");
  if (f == nullptr) return;
  char text[64] = {};
  const bool ok = std::fgets(text, sizeof text, f) != nullptr;
  std::fclose(f);
  if (!ok) return;
  // "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx": 32 hex digits, dashes skipped.
  int nibbles = 0;
  std::uint8_t id[16] = {};
  for (const char* p = text; *p != '\0' && nibbles < 32; ++p) {
    int v;
    if (*p >= '0' && *p <= '9') v = *p - '0';
    else if (*p >= 'a' && *p <= 'f') v = *p - 'a' + 10;
    else if (*p >= 'A' && *p <= 'F') v = *p - 'A' + 10;
    else continue;
    id[nibbles / 2] = static_cast<std::uint8_t>(id[nibbles / 2] << 4 | v);
    ++nibbles;
  }
  if (nibbles == 32) std::memcpy(out, id, sizeof out);
}

}  // namespace shmkit::detail
