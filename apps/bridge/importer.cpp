// bridge import: learns the exporting channel from the state topic, creates (or attaches to) a
// local channel of the same kind and geometry, and publishes every valid frame sample into it,
// counting gaps in the upstream sequence as lost frames (publish_after_gap).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "bridge_run.hpp"
#include "bridge_stats.hpp"
#include "bridge_topics.hpp"
#include "import_origin.hpp"
#include "shmkit/channel.hpp"

namespace shmkit::bridge {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The local channel as the importer writes it.
class ChannelSink {
 public:
  ChannelSink(Segment& segment, const std::string& name, ChannelKind kind, const ChannelConfig& config)
      : segment_(segment), name_(name), kind_(kind) {
    try {
      const ChannelStatus st = channel_status(segment, name);
      if (st.kind != kind)
        throw Error(Errc::type_mismatch, "local channel '" + name + "' is a " + to_string(st.kind) +
                                             " channel; the exporter's is a " + to_string(kind) + " (choose another --channel)");
      if (st.config.max_frame < config.max_frame)
        throw Error(Errc::invalid_argument, "local channel '" + name + "' takes frames up to " +
                                                std::to_string(st.config.max_frame) + " B; the exporter's up to " +
                                                std::to_string(config.max_frame) + " B (destroy it or choose another --channel)");
      attach();
    } catch (const Error& e) {
      if (e.errc() != Errc::not_found) throw;
      if (kind == ChannelKind::queue) queue_.emplace(QueueWriter::create(segment, name, config));
      else broadcast_.emplace(BroadcastWriter::create(segment, name, config));
    }
  }
  // ok, or timeout while the local queue stays full, or peer_gone (its reader died).
  Errc publish(std::span<const std::byte> data, std::uint64_t gap) {
    if (closed_) {  // the exporting writer came back: reopen
      queue_.reset();
      broadcast_.reset();
      attach();
      closed_ = false;
    }
    if (broadcast_) {
      broadcast_->publish_after_gap(data, gap);
      return Errc::ok;
    }
    return queue_->publish_after_gap(data, gap, 100ms).status;
  }
  void heartbeat() noexcept {
    if (closed_) return;
    if (queue_) queue_->heartbeat();
    if (broadcast_) broadcast_->heartbeat();
  }
  void close() noexcept {
    if (queue_) queue_->close();
    if (broadcast_) broadcast_->close();
    closed_ = true;
  }
  std::uint64_t published() const noexcept { return queue_ ? queue_->published() : broadcast_->published(); }
  std::uint64_t upstream_lost() const noexcept { return queue_ ? queue_->upstream_lost() : broadcast_->upstream_lost(); }

 private:
  void attach() {
    if (kind_ == ChannelKind::queue) queue_.emplace(QueueWriter::attach(segment_, name_));
    else broadcast_.emplace(BroadcastWriter::attach(segment_, name_));
  }
  Segment& segment_;
  std::string name_;
  ChannelKind kind_;
  std::optional<QueueWriter> queue_;
  std::optional<BroadcastWriter> broadcast_;
  bool closed_ = false;
};

Segment open_segment(const BridgeSettings& s, const ChannelConfig& c) {
  // Enough for the ring plus the segment's own bookkeeping.
  const std::uint64_t stride = (std::uint64_t{c.max_frame} + 32 + 63) / 64 * 64;
  const std::uint64_t need = std::uint64_t{c.slots} * stride + (1U << 20);
  const std::uint64_t size = s.segment_size != 0 ? s.segment_size : need + need / 4;
  SegmentOptions options;
  options.backend = s.backend;
  return Segment::open_or_create(s.segment, static_cast<std::size_t>(size), options);
}

// Reads the latest channel state for our key; nullopt if none is waiting.
struct StateSeen {
  ChannelKind kind{};
  ChannelConfig config;
  PeerState writer = PeerState::none;
  std::uint64_t next_sequence = 0;
  std::string channel;
};

std::optional<StateSeen> take_state(dds_entity_t reader, const std::string& key, BridgeStats& st) {
  std::optional<StateSeen> latest;
  void* samples[16] = {};
  dds_sample_info_t infos[16];
  for (;;) {
    const dds_return_t n = dds_take(reader, samples, infos, 16, 16);
    if (n <= 0) break;
    for (dds_return_t i = 0; i < n; ++i) {
      if (!infos[i].valid_data) continue;
      const auto* m = static_cast<const shmkit_bridge_ChannelState*>(samples[i]);
      StateSeen seen;
      seen.channel = m->channel != nullptr ? m->channel : "";
      if (!key.empty() && seen.channel != key) continue;  // another channel sharing the topic
      const bool writer_ok = m->writer == static_cast<std::uint32_t>(PeerState::alive) ||
                             m->writer == static_cast<std::uint32_t>(PeerState::closed) ||
                             m->writer == static_cast<std::uint32_t>(PeerState::dead);
      const bool geometry_ok = m->slots >= 2 && m->slots <= (1U << 24) && (m->slots & (m->slots - 1)) == 0 &&
                               m->max_frame >= 1 && m->max_frame <= (1U << 30) && m->checksum <= 1;
      if (!kind_from_wire(m->kind, seen.kind) || !writer_ok || !geometry_ok) {
        ++st.refused;
        continue;
      }
      seen.config = ChannelConfig{.slots = m->slots, .max_frame = m->max_frame,
                                  .checksum = static_cast<Checksum>(m->checksum), .max_readers = 16};
      seen.writer = static_cast<PeerState>(m->writer);
      seen.next_sequence = m->next_sequence;
      latest = seen;
    }
    dds_return_loan(reader, samples, n);
  }
  return latest;
}

// Takes frame samples and publishes them into the local channel, on DDS's receive thread (the
// frame reader's data-available listener). `mutex` guards the sink, `expected` and the stats,
// which the main thread reads and updates for states and reports.
struct FrameDelivery {
  FrameDelivery(ChannelSink& into, ImportOrigin& from, std::string channel_key, std::uint32_t frame_limit,
                BridgeStats& stats, const std::atomic<bool>& stopping, std::uint64_t frames_wanted, dds_entity_t ws)
      : sink(into), origin(from), key(std::move(channel_key)), max_frame(frame_limit), st(stats), stop(stopping),
        count(frames_wanted), waitset(ws) {
    if (origin.set.load(std::memory_order_acquire) == 1) {
      st.first_sequence = origin.first_sequence.load(std::memory_order_relaxed);
      expected = st.first_sequence + sink.published() + sink.upstream_lost();
    }
  }

  static void on_data_available(dds_entity_t reader, void* arg) noexcept {
    auto& self = *static_cast<FrameDelivery*>(arg);
    std::unique_lock<std::mutex> lock(self.mutex);
    if (self.failure || self.closing.load(std::memory_order_relaxed)) return;
    try {
      self.take_all(reader, lock);
    } catch (...) {
      self.failure = std::current_exception();  // rethrown by the main thread
    }
    if (self.failure || (self.count != 0 && self.st.frames >= self.count)) dds_waitset_set_trigger(self.waitset, true);
  }

  void take_all(dds_entity_t reader, std::unique_lock<std::mutex>& lock) {
    void* samples[64] = {};
    dds_sample_info_t infos[64];
    for (;;) {
      const dds_return_t n = dds_take(reader, samples, infos, 64, 64);
      if (n < 0) dds_check(n, "taking frames");
      if (n == 0) return;
      struct Loan {
        dds_entity_t reader;
        void** samples;
        dds_return_t n;
        ~Loan() { dds_return_loan(reader, samples, n); }
      } loan{reader, samples, n};
      for (dds_return_t i = 0; i < n; ++i)
        if (infos[i].valid_data && !deliver(*static_cast<const shmkit_bridge_Frame*>(samples[i]), lock)) return;
    }
  }

  // False when stopping while the local queue had no room. `lock` holds `mutex`.
  bool deliver(const shmkit_bridge_Frame& f, std::unique_lock<std::mutex>& lock) {
    // Everything on the wire is checked before use: a foreign or broken sample is refused.
    const bool ours = f.channel != nullptr && key == f.channel;
    const bool sized = f.size == f.payload._length && f.size <= max_frame && (f.size == 0 || f.payload._buffer != nullptr);
    if (!ours || !sized) {
      ++st.refused;
      return true;
    }
    if (!expected) {
      origin.first_sequence.store(f.sequence_number, std::memory_order_relaxed);
      origin.set.store(1, std::memory_order_release);
      expected = st.first_sequence = f.sequence_number;
    }
    if (f.sequence_number < *expected) {  // sent again after an exporter restart: already here
      ++st.duplicates;
      return true;
    }
    const std::uint64_t gap = f.sequence_number - *expected;
    const std::span<const std::byte> data(reinterpret_cast<const std::byte*>(f.payload._buffer), f.size);
    Errc e;
    while ((e = sink.publish(data, gap)) != Errc::ok) {
      // The local queue is full (or its reader is gone): hold the sample, and with it this DDS
      // receive thread and the reader's history, which stops the exporter (discovery and
      // liveliness have threads of their own). Stay alive meanwhile.
      ++st.full_waits;
      sink.heartbeat();
      if (stop.load(std::memory_order_relaxed) || closing.load(std::memory_order_relaxed)) return false;
      if (e == Errc::peer_gone) std::this_thread::sleep_for(10ms);
      // The main thread reports and takes states meanwhile (it asks in `main_waiting`).
      if (main_waiting.load(std::memory_order_acquire)) {
        mid_frame = true;
        lock.unlock();
        while (main_waiting.load(std::memory_order_acquire)) std::this_thread::yield();
        lock.lock();
        mid_frame = false;
      }
    }
    expected = f.sequence_number + 1;
    st.lost += gap;
    ++st.frames;
    st.bytes += f.size;
    return true;
  }

  std::mutex mutex;
  ChannelSink& sink;
  ImportOrigin& origin;
  const std::string key;
  const std::uint32_t max_frame;
  BridgeStats& st;
  const std::atomic<bool>& stop;
  const std::uint64_t count;
  const dds_entity_t waitset;
  std::optional<std::uint64_t> expected;  // the next upstream sequence
  std::exception_ptr failure;
  std::atomic<bool> closing{false};
  std::atomic<bool> main_waiting{false};  // the main thread waits for `mutex`
  bool mid_frame = false;  // the callback let the main thread in while a frame waits for room

  // The main thread's lock: a callback waiting for room in the local queue lets it in.
  std::unique_lock<std::mutex> lock_for_main() {
    main_waiting.store(true, std::memory_order_release);
    std::unique_lock<std::mutex> lock(mutex);
    main_waiting.store(false, std::memory_order_release);
    return lock;
  }
};

}  // namespace

int run_import(const BridgeSettings& s, const std::atomic<bool>& stop) {
  if (s.topic.empty()) throw Error(Errc::invalid_argument, "import needs --topic (the exporter's topic)");
  BridgeTopics topics(s.domain, s.topic);
  DdsQos sq;
  state_qos(sq.get());
  const dds_entity_t states = dds_check(dds_create_reader(topics.participant.get(), topics.state, sq.get(), nullptr),
                                        "creating the DDS reader on '" + topics.state_name + "'");
  BridgeStats st;
  const auto start = Clock::now();
  auto report = [&](bool final) {
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (s.json) std::printf("%s\n", stats_json("import", s.topic, s.channel, st, secs, final).c_str());
    else if (!s.quiet) std::printf("%s\n", stats_line("import", st, secs).c_str());
    std::fflush(stdout);
  };

  // The exporter's channel: kind and geometry first (transient-local, so it is there on match).
  std::optional<StateSeen> first;
  DdsEntity ws(dds_check(dds_create_waitset(topics.participant.get()), "creating a DDS waitset"));
  DdsEntity state_cond(dds_check(dds_create_readcondition(states, DDS_ANY_STATE), "creating a read condition"));
  dds_check(dds_waitset_attach(ws.get(), state_cond.get(), 0), "attaching to the waitset");
  while (!first && !stop.load(std::memory_order_relaxed)) {
    first = take_state(states, s.from, st);
    if (!first) dds_waitset_wait(ws.get(), nullptr, 0, DDS_MSECS(100));
    if (s.duration.count() > 0 && Clock::now() - start >= s.duration) break;
  }
  if (!first) {
    report(true);
    return 0;
  }
  const std::string key = first->channel;
  const ChannelKind kind = first->kind;

  Segment segment = open_segment(s, first->config);
  ChannelSink sink(segment, s.channel, kind, first->config);
  FrameDelivery delivery(sink, segment.find_or_construct<ImportOrigin>(s.channel + ".bridge-origin"), key,
                         first->config.max_frame, st, stop, s.count, ws.get());

  DdsQos rq;
  frame_reader_qos(rq.get(), kind, first->config.slots);
  // Frames are taken and published on DDS's receive thread (a listener): a waitset would hand
  // each batch to this thread, a wake-up and a contended history lock per batch.
  std::unique_ptr<dds_listener_t, decltype(&dds_delete_listener)> listener(dds_create_listener(&delivery),
                                                                            &dds_delete_listener);
  dds_lset_data_available(listener.get(), &FrameDelivery::on_data_available);
  // Declared after `delivery` and the sink: deleting the reader first waits for a callback in
  // progress, and none starts after it.
  DdsEntity frames(dds_check(dds_create_reader(topics.participant.get(), topics.frames, rq.get(), listener.get()),
                             "creating the DDS reader on '" + s.topic + "'"));
  struct StopDelivery {
    FrameDelivery& d;
    DdsEntity& reader;
    ~StopDelivery() {
      d.closing.store(true, std::memory_order_relaxed);  // a callback waiting for room gives up
      reader.reset();
    }
  } stop_delivery{delivery, frames};

  // A writer state waits until the frames before it are in (they travel on the other topic),
  // or at most this long (best-effort frames may never come).
  constexpr auto kStateGrace = 500ms;
  std::optional<StateSeen> pending_state;
  Clock::time_point pending_since = Clock::now();
  auto next_report = start + s.interval;
  {
    auto lock = delivery.lock_for_main();
    st.writer = to_string(first->writer);
  }
  if (first->writer != PeerState::alive) pending_state = first;
  while (!stop.load(std::memory_order_relaxed)) {
    const auto now = Clock::now();
    dds_liveliness_changed_status_t live{};
    dds_get_liveliness_changed_status(frames.get(), &live);
    {
      auto lock = delivery.lock_for_main();
      if (delivery.failure) std::rethrow_exception(delivery.failure);
      auto state = take_state(states, key, st);
      st.matched = live.alive_count > 0;
      // Heartbeats only while the exporter is alive: without it local readers see the writer
      // stalled, as they would see a hung local writer.
      if (st.matched) sink.heartbeat();
      if (now >= next_report) {
        report(false);
        next_report = now + s.interval;
      }
      if (s.duration.count() > 0 && now - start >= s.duration) break;
      if (s.count != 0 && st.frames >= s.count) break;
      if (state) {
        pending_state = state;
        pending_since = now;
      }
      std::optional<std::uint64_t>& expected = delivery.expected;
      // Not while a frame waits for room: a state applies after the frames before it.
      if (pending_state && !delivery.mid_frame &&
          ((expected && *expected >= pending_state->next_sequence) || now - pending_since >= kStateGrace)) {
        st.writer = to_string(pending_state->writer);
        // Frames the exporter sent before its writer ended that never arrived: no frame follows
        // them to carry the gap, so they count here (and in the channel's upstream_lost).
        if (expected && *expected < pending_state->next_sequence && pending_state->writer != PeerState::alive) {
          st.lost += pending_state->next_sequence - *expected;
          expected = pending_state->next_sequence;
        }
        if (pending_state->writer == PeerState::closed) {
          sink.close();
        } else if (pending_state->writer == PeerState::dead) {
          report(true);
          std::_Exit(kExitWriterDead);  // without closing: local readers see a dead writer
        }
        pending_state.reset();
      }
    }
    // States, the listener's trigger (a failure, or --count reached), or the next report.
    dds_waitset_wait(ws.get(), nullptr, 0, DDS_MSECS(pending_state ? 10 : 50));
    dds_waitset_set_trigger(ws.get(), false);
  }
  auto lock = delivery.lock_for_main();
  report(true);
  return 0;
}

}  // namespace shmkit::bridge
