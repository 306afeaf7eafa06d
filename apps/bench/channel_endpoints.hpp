// Either kind of shmkit channel behind one small interface, so that every channel case is
// written once and run on broadcast and queue alike. Not a general-purpose abstraction: it
// exposes exactly what the benchmark calls.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "shmkit/channel.hpp"
#include "shmkit/segment.hpp"

namespace shmkit::bench {

inline ChannelKind parse_kind(const std::string& k) {
  return k == "queue" ? ChannelKind::queue : ChannelKind::broadcast;
}

inline WaitStrategy parse_wait(const std::string& w) {
  if (w == "busy") return WaitStrategy::busy_poll();
  if (w == "block") return WaitStrategy::block();
  return WaitStrategy::spin_then_block();
}

inline constexpr std::chrono::seconds kChannelTimeout{10};

class AnyWriter {
 public:
  // `wait`: how a queue's writer waits for room, and a broadcast's for lossless readers (if any).
  AnyWriter(Segment& seg, const std::string& name, ChannelKind kind, const ChannelConfig& cfg, WaitStrategy wait) {
    if (kind == ChannelKind::broadcast)
      b_.emplace(BroadcastWriter::create(seg, name, cfg, WriterOptions{.wait = wait}));
    else
      q_.emplace(QueueWriter::create(seg, name, cfg, WriterOptions{wait}));
  }
  void publish(std::span<const std::byte> data) {
    if (b_) {
      b_->publish(data);
    } else if (!q_->publish(data, kChannelTimeout)) {
      throw std::runtime_error("queue publish timed out (reader gone?)");
    }
  }
  void publish_batch(std::span<const std::span<const std::byte>> frames) {
    if (b_) {
      b_->publish_batch(frames);
    } else if (!q_->publish_batch(frames, kChannelTimeout)) {
      throw std::runtime_error("queue publish timed out (reader gone?)");
    }
  }
  // One named result, so it is built in the caller's object: moving a loan just after loan()
  // loads what loan() stored, which waits behind the slot stores still in the store buffer.
  FrameLoan loan() {
    FrameLoan l = b_ ? b_->loan() : q_->loan(kChannelTimeout);
    if (!l) throw std::runtime_error("channel loan failed (queue timed out: reader gone?)");
    return l;
  }
  void close() {
    if (b_) b_->close();
    else q_->close();
  }
  const WriterStats& stats() const { return b_ ? b_->stats() : q_->stats(); }

 private:
  std::optional<BroadcastWriter> b_;
  std::optional<QueueWriter> q_;
};

class AnyReader {
 public:
  AnyReader(Segment& seg, const std::string& name, ChannelKind kind, WaitStrategy wait, bool lossless = false) {
    ReaderOptions o;
    o.wait = wait;
    o.start = StartAt::oldest;
    if (lossless) o.delivery = Delivery::lossless;
    if (kind == ChannelKind::broadcast)
      b_.emplace(seg, name, o);
    else
      q_.emplace(seg, name, o);
  }
  ReadResult read(std::span<std::byte> buf) { return b_ ? b_->read(buf, kChannelTimeout) : q_->read(buf, kChannelTimeout); }
  ReadResult peek() { return b_ ? b_->peek(kChannelTimeout) : q_->peek(kChannelTimeout); }
  bool finish() { return b_ ? b_->finish() : q_->finish(); }

 private:
  std::optional<BroadcastReader> b_;
  std::optional<QueueReader> q_;
};

}  // namespace shmkit::bench
