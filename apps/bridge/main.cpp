// shmkit-bridge: carries a shmkit channel between hosts over Cyclone DDS.
//   shmkit-bridge export --segment S --channel C [--topic T]   (on the writer's host)
//   shmkit-bridge import --topic T --segment S --channel C     (on the readers' host)
// docs/bridge.md: what crosses, the QoS mapping, failure behaviour, a two-host walk-through.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include "bridge_run.hpp"
#include "cli.hpp"
#include "segment_target.hpp"

namespace po = boost::program_options;
using namespace shmkit;

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  apps::AppSpec spec;
  spec.name = "shmkit-bridge";
  spec.summary = "carries a shmkit channel (queue or broadcast) between hosts over Cyclone DDS";
  spec.usage =
      "  shmkit-bridge export --segment shmkit-demo --channel sensors --topic robot_sensors\n"
      "  shmkit-bridge import --topic robot_sensors --segment remote --channel sensors\n"
      "  CYCLONEDDS_URI=file://$PWD/cyclone.xml shmkit-bridge import ...   # pin interface/peers\n";
  spec.options.add_options()
      ("command", po::value<std::string>(), "export or import")
      ("segment", po::value<std::string>(), "the local segment (import: created if missing)")
      ("channel", po::value<std::string>(), "the local channel (import: created if missing)")
      ("topic", po::value<std::string>()->default_value(""), "DDS topic (export default: shmkit_<channel>)")
      ("from", po::value<std::string>()->default_value(""), "import: the exporting channel's name on a shared topic (default: the first seen)")
      ("socket", po::value<std::string>()->default_value(""), "export: attach to the memfd segment served at PATH")
      ("backend", po::value<std::string>()->default_value("named"), "auto, memfd or named (import: also file)")
      ("wait-for-writer", po::value<apps::Duration>()->default_value(apps::Duration{std::chrono::nanoseconds(0)}), "export: keep trying this long while the segment or channel does not exist (0: fail at once)")
      ("size", po::value<apps::ByteSize>()->default_value(apps::ByteSize{0}), "import: size of a segment it creates (0: enough for the channel)")
      ("domain", po::value<int>()->default_value(-1), "DDS domain id (-1: CYCLONEDDS_URI's, else 0)")
      ("count", po::value<std::uint64_t>()->default_value(0), "stop after this many frames (0: no limit)")
      ("duration", po::value<apps::Duration>()->default_value(apps::Duration{std::chrono::nanoseconds(0)}), "stop after this long (0: no limit)")
      ("interval", po::value<apps::Duration>()->default_value(apps::Duration{std::chrono::seconds(1)}), "status line period")
      ("json", po::bool_switch(), "one JSON object per interval (and a final one) instead of text")
      ("quiet,q", po::bool_switch(), "print only errors (and --json lines)");
  spec.positional.add("command", 1);
  return apps::run_app(argc, argv, spec, [](const po::variables_map& vm) {
    if (!vm.count("command")) throw std::invalid_argument("say export or import");
    const std::string command = vm["command"].as<std::string>();
    if (command != "export" && command != "import")
      throw std::invalid_argument("the command must be export or import, not '" + command + "'");
    if (!vm.count("segment") || !vm.count("channel")) throw std::invalid_argument("--segment and --channel are required");
    bridge::BridgeSettings s;
    s.segment = vm["segment"].as<std::string>();
    s.channel = vm["channel"].as<std::string>();
    s.topic = vm["topic"].as<std::string>();
    s.from = vm["from"].as<std::string>();
    s.socket = vm["socket"].as<std::string>();
    s.backend = apps::parse_backend(vm["backend"].as<std::string>(), command == "import");
    s.wait_for_writer = vm["wait-for-writer"].as<apps::Duration>().value;
    s.segment_size = vm["size"].as<apps::ByteSize>().bytes;
    const int domain = vm["domain"].as<int>();
    if (domain < -1 || domain > 232) throw std::invalid_argument("--domain must be -1 or 0..232");
    s.domain = domain < 0 ? DDS_DOMAIN_DEFAULT : static_cast<dds_domainid_t>(domain);
    s.count = vm["count"].as<std::uint64_t>();
    s.duration = vm["duration"].as<apps::Duration>().value;
    s.interval = std::max<std::chrono::nanoseconds>(vm["interval"].as<apps::Duration>().value, std::chrono::milliseconds(10));
    s.json = vm["json"].as<bool>();
    s.quiet = vm["quiet"].as<bool>();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    return command == "export" ? bridge::run_export(s, g_stop) : bridge::run_import(s, g_stop);
  });
}
