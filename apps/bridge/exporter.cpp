// bridge export: reads a local channel (as its queue reader, or as a registered broadcast
// reader) and writes each frame as a DDS sample; the writer's state goes on the state topic.
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include "bridge_run.hpp"
#include "bridge_stats.hpp"
#include "bridge_topics.hpp"
#include "segment_target.hpp"
#include "shmkit/channel.hpp"

namespace shmkit::bridge {

namespace {

using Clock = std::chrono::steady_clock;

// How long a batch waits for a frame that follows closely, and how long its first frame waits
// at most, before the batch is sent.
constexpr std::chrono::microseconds kBatchLinger{50};
constexpr std::chrono::microseconds kMaxBatchHold{500};

// The local channel as the exporter reads it: a queue or a broadcast reader.
class ChannelSource {
 public:
  ChannelSource(Segment& segment, const std::string& channel, ChannelKind kind) {
    ReaderOptions o{.wait = WaitStrategy::spin_then_block(), .start = StartAt::oldest, .register_reader = true};
    if (kind == ChannelKind::queue) queue_.emplace(segment, channel, o);
    else broadcast_.emplace(segment, channel, o);
  }
  ReadResult read(std::span<std::byte> buffer, std::chrono::nanoseconds timeout) {
    return queue_ ? queue_->read(buffer, timeout) : broadcast_->read(buffer, timeout);
  }
  std::uint64_t position() const noexcept { return queue_ ? queue_->position() : broadcast_->position(); }
  PeerState writer_state() const { return queue_ ? queue_->writer_state() : broadcast_->writer_state(); }

 private:
  std::optional<QueueReader> queue_;
  std::optional<BroadcastReader> broadcast_;
};

}  // namespace

int run_export(const BridgeSettings& s, const std::atomic<bool>& stop) {
  // With --wait-for-writer, keep trying while the segment or the channel does not exist yet.
  const auto give_up = Clock::now() + s.wait_for_writer;
  std::optional<Segment> opened;
  ChannelStatus status;
  for (;;) {
    try {
      if (!opened) opened.emplace(apps::open_target(s.segment, s.socket, s.backend));
      status = channel_status(*opened, s.channel);
      break;
    } catch (const Error& e) {
      if (e.errc() != Errc::not_found || Clock::now() >= give_up || stop.load(std::memory_order_relaxed)) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // waiting for a process that has not made it yet
  }
  Segment& segment = *opened;
  const ChannelKind kind = status.kind;
  const std::string topic = s.topic.empty() ? "shmkit_" + s.channel : s.topic;

  BridgeTopics topics(s.domain, topic);
  DdsQos wq, sq;
  frame_writer_qos(wq.get(), kind, status.config.slots);
  state_qos(sq.get());
  // Batching is a domain setting that writers take when they are created (Cyclone 0.10), so it
  // is set before they are; the state writer flushes each of its writes itself.
  dds_write_set_batch(true);
  const dds_entity_t frames = dds_check(dds_create_writer(topics.participant.get(), topics.frames, wq.get(), nullptr),
                                        "creating the DDS writer on '" + topic + "'");
  const dds_entity_t states = dds_check(dds_create_writer(topics.participant.get(), topics.state, sq.get(), nullptr),
                                        "creating the DDS writer on '" + topics.state_name + "'");

  ChannelSource source(segment, s.channel, kind);
  BridgeStats st;
  shmkit_bridge_ChannelState state{};
  state.channel = const_cast<char*>(s.channel.c_str());  // DDS copies it; the type is not const
  state.kind = static_cast<std::uint32_t>(kind);
  state.slots = status.config.slots;
  state.max_frame = status.config.max_frame;
  state.checksum = static_cast<std::uint32_t>(status.config.checksum);
  std::uint64_t unflushed = 0;
  auto announce = [&](PeerState w) {
    // The frames before a state change go out first: the importer waits for them.
    if (unflushed != 0) {
      dds_write_flush(frames);
      unflushed = 0;
    }
    state.writer = static_cast<std::uint32_t>(w);
    state.next_sequence = source.position();
    st.writer = to_string(w);
    dds_check(dds_write(states, &state), "writing the channel state");
    dds_write_flush(states);
  };
  announce(PeerState::alive);

  std::vector<std::byte> buffer(status.config.max_frame);
  shmkit_bridge_Frame sample{};
  sample.channel = state.channel;
  sample.payload._release = false;
  const auto start = Clock::now();
  auto next_report = start + s.interval;
  PeerState writer = PeerState::alive;
  Clock::time_point batch_started{}, last_frame_at{};
  bool back_to_back = false;  // the last frame followed the one before it closely
  auto next_match_check = start;
  auto report = [&](bool final) {
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (s.json) std::printf("%s\n", stats_json("export", topic, s.channel, st, secs, final).c_str());
    else if (!s.quiet) std::printf("%s\n", stats_line("export", st, secs).c_str());
    std::fflush(stdout);
  };
  while (!stop.load(std::memory_order_relaxed)) {
    const auto now = Clock::now();
    if (now >= next_report) {
      dds_publication_matched_status_t m{};
      dds_get_publication_matched_status(frames, &m);
      st.matched = m.current_count > 0;
      report(false);
      next_report = now + s.interval;
    }
    if (s.duration.count() > 0 && now - start >= s.duration) break;
    if (s.count != 0 && st.frames >= s.count) break;
    if (kind == ChannelKind::queue) {
      // Reliable: with no importer matched, DDS would discard what we write, so the frames stay
      // in the local queue (and its writer waits) until one is. Asked every 10 ms, not per frame.
      if (!st.matched || now >= next_match_check) {
        dds_publication_matched_status_t m{};
        dds_get_publication_matched_status(frames, &m);
        st.matched = m.current_count > 0;
        next_match_check = now + std::chrono::milliseconds(10);
      }
      if (!st.matched) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
    }
    // Frames share packets (DDS batching). A batch goes out when the channel is empty, except
    // while frames arrive back to back: then it waits a little for the next one, because a
    // packet per frame costs a send and a receive per frame and caps the rate. A frame that
    // arrives alone (a low rate) goes out at once; none waits longer than kMaxBatchHold.
    ReadResult r = source.read(buffer, std::chrono::nanoseconds(0));
    while (r.status == Errc::timeout && unflushed != 0) {
      const auto t = Clock::now();
      const bool streaming = back_to_back && t - batch_started < kMaxBatchHold;
      if (!streaming) {
        dds_write_flush(frames);
        unflushed = 0;
        break;
      }
      r = source.read(buffer, kBatchLinger);
      if (r.status == Errc::ok) break;
      back_to_back = false;  // the stream paused: flush on the next turn
    }
    if (r.status == Errc::timeout) r = source.read(buffer, std::chrono::milliseconds(50));
    // A wait this short ends before the reader's own liveness check: ask after an empty read.
    if (r.status == Errc::timeout && writer == PeerState::alive && source.writer_state() == PeerState::dead) {
      r = source.read(buffer, std::chrono::nanoseconds(0));  // a frame published just before it died
      if (r.status == Errc::timeout) r.status = Errc::peer_gone;
    }
    if (r.status == Errc::ok) {
      st.lost += r.lost;
      if (writer != PeerState::alive) announce(writer = PeerState::alive);
      sample.sequence_number = r.frame.sequence;
      sample.timestamp_ns = r.frame.timestamp_ns;
      sample.size = r.frame.size;
      sample.payload._buffer = reinterpret_cast<std::uint8_t*>(const_cast<std::byte*>(r.data.data()));
      sample.payload._length = sample.payload._maximum = r.frame.size;
      for (;;) {
        const dds_return_t rc = dds_write(frames, &sample);
        if (rc == DDS_RETCODE_OK) break;
        // Reliable and the importer's history is full: back-pressure. Keep the frame and retry.
        if (rc != DDS_RETCODE_TIMEOUT) dds_check(rc, "writing a frame");
        ++st.write_retries;
        if (stop.load(std::memory_order_relaxed)) break;
      }
      const auto arrived = Clock::now();
      if (unflushed++ == 0) batch_started = arrived;
      back_to_back = arrived - last_frame_at < kBatchLinger;
      last_frame_at = arrived;
      ++st.frames;
      st.bytes += r.frame.size;
    } else if (r.status == Errc::closed || r.status == Errc::peer_gone) {
      const PeerState now_state = r.status == Errc::closed ? PeerState::closed : PeerState::dead;
      st.lost += r.lost;
      if (writer != now_state) announce(writer = now_state);
      // Wait for a writer that attaches again (the channel reopens) without spinning.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  dds_write_flush(frames);
  report(true);
  return 0;
}

}  // namespace shmkit::bridge
