// Fuzz target: the segment header check every opener runs before trusting a mapping
// (validate_header, segment_header.hpp). Input: the header's 304 bytes (zero-padded when shorter),
// then optionally 8 bytes of mapping size (little-endian; absent: the header's own total_size,
// so the fuzzer reaches the checks past the size).
// Invariants: it throws Error(too_small / incompatible_format / corrupt) or the header is one
// this build can use (magic, format, layout, sizes and backend all consistent); never reads past
// the header (the buffer is exactly its size, for ASan).
#include <cstring>
#include <memory>
#include <new>

#include "fuzz_common.hpp"
#include "segment_header.hpp"
#include "shmkit/error.hpp"

namespace sd = shmkit::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kHeader = sizeof(sd::SegmentHeader);
  auto storage = std::make_unique<std::byte[]>(kHeader);  // exactly the header: ASan sees any overread
  std::memcpy(storage.get(), data, std::min(size, kHeader));
  const auto& h = *std::launder(reinterpret_cast<const sd::SegmentHeader*>(storage.get()));
  std::uint64_t mapped = h.total_size;
  if (size >= kHeader + 8) std::memcpy(&mapped, data + kHeader, 8);
  const auto mapped_size = static_cast<std::size_t>(mapped);
  (void)sd::header_is_ready(h);
  try {
    sd::validate_header(h, mapped_size, mapped_size, "fuzz");
  } catch (const shmkit::Error& e) {
    const auto c = e.errc();
    SHMKIT_FUZZ_CHECK(c == shmkit::Errc::too_small || c == shmkit::Errc::incompatible_format ||
                      c == shmkit::Errc::corrupt);
    SHMKIT_FUZZ_CHECK(std::strstr(e.what(), "fuzz") != nullptr);  // the message names the segment
    return 0;
  }
  // Accepted: everything an opener relies on next must hold.
  SHMKIT_FUZZ_CHECK(h.magic == sd::kSegmentMagic && h.format_version == sd::kFormatVersion);
  SHMKIT_FUZZ_CHECK(h.header_size >= kHeader && h.header_size <= sd::kManagerOffset);
  SHMKIT_FUZZ_CHECK(h.total_size == mapped_size && mapped_size >= sd::kManagerOffset + 1024);
  SHMKIT_FUZZ_CHECK(h.manager_offset == sd::kManagerOffset && h.manager_offset + h.manager_size == h.total_size);
  SHMKIT_FUZZ_CHECK(h.backend >= 1 && h.backend <= 3);
  const sd::LayoutFingerprint want = sd::current_layout();
  SHMKIT_FUZZ_CHECK(h.layout.sizeof_segment_manager == want.sizeof_segment_manager &&
                    h.layout.boost_version == want.boost_version && h.layout.pointer_size == want.pointer_size);
  return 0;
}
