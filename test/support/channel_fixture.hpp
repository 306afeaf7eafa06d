// A segment holding the channel tests' ChannelTestControl, and the exec'd channel helper
// (test/helpers/channel_helper.cpp) that reports through it. Shared by the cross-process and
// stress suites.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "../helpers/channel_test_types.hpp"
#include "backends.hpp"
#include "child_process.hpp"
#include "shmkit/shmkit.hpp"

namespace shmkit::test {

struct ChannelFixture {
  ChannelFixture(Backend b, const std::string& prefix, std::size_t size) : seg(b, size, prefix) {
    control = &seg->construct<ChannelTestControl>("control");
  }
  // Runs `shmkit-test-channel-helper <command> <backend> <segment> ch <index> <extra...>`.
  ChildProcess child(const std::string& command, int index, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{command, to_string(seg.backend), seg.name, "ch", std::to_string(index)};
    args.insert(args.end(), extra.begin(), extra.end());
    return ChildProcess(helper_path("shmkit-test-channel-helper"), args);
  }
  ChildReport& report(int i) { return control->child[i]; }
  ScratchSegment seg;
  ChannelTestControl* control = nullptr;
};

inline ChannelConfig channel_config(std::uint32_t slots, std::uint32_t max_frame, Checksum c = Checksum::none) {
  ChannelConfig cfg;
  cfg.slots = slots;
  cfg.max_frame = max_frame;
  cfg.checksum = c;
  return cfg;
}

}  // namespace shmkit::test
