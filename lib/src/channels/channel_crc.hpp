// CRC-32C (Castagnoli), the frame checksum of channels (internal).
// crc32c(0, data) is the standard CRC-32C ("123456789" -> 0xE3069283); crc32c(crc32c(0, a), b)
// equals crc32c(0, a + b). Picked by measurement (docs/channels.md): the SSE4.2 crc32
// instruction, three interleaved streams, where the CPU has it; slicing-by-8 tables elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmkit::detail {

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept;
// Copies `size` bytes and returns crc32c(0, src): one pass over the source where the CPU has the
// crc32 instruction (the load feeds both the store and the CRC). Buffers must not overlap.
std::uint32_t crc32c_copy(void* dst, const void* src, std::size_t size) noexcept;

// The candidates, for tests and measurements.
bool crc32c_hardware_available() noexcept;
std::uint32_t crc32c_software(std::uint32_t crc, const void* data, std::size_t size) noexcept;
// Require crc32c_hardware_available().
std::uint32_t crc32c_hardware(std::uint32_t crc, const void* data, std::size_t size) noexcept;
std::uint32_t crc32c_hardware_one_stream(std::uint32_t crc, const void* data, std::size_t size) noexcept;

}  // namespace shmkit::detail
