// Command-line plumbing shared by the shmkit apps (Boost.Program_options): sizes like "64MiB",
// durations like "500ms", and one way to turn bad options into "one line + exit 2".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <boost/any.hpp>
#include <boost/program_options.hpp>

#include "shmkit/error.hpp"

namespace shmkit::apps {

// A byte count written with an optional unit: 4096, 64KiB, 64MiB, 1GiB, 1.5MiB, 64k, 10MB.
struct ByteSize {
  std::uint64_t bytes = 0;
};
// A duration written with a unit: 250ns, 10us, 500ms, 2s, 1.5s, 5m, 1h. A bare number is seconds.
struct Duration {
  std::chrono::nanoseconds value{0};
};

// A whole number written in decimal digits only: "-1" is refused instead of wrapping around.
struct Count {
  std::uint64_t value = 0;
};
// A rate in events per second: finite, 0 (unthrottled) or within [kMinRate, kMaxRate].
struct Rate {
  double per_second = 0;
};
inline constexpr double kMinRate = 0.001;  // one event in about 17 minutes
inline constexpr double kMaxRate = 1e8;     // a 10 ns period: beyond what any pacing loop can keep

// Throw std::invalid_argument with a message naming the text and the accepted forms.
std::uint64_t parse_count(std::string_view text);
double parse_rate(std::string_view text);
std::uint64_t parse_byte_size(std::string_view text);
std::chrono::nanoseconds parse_duration(std::string_view text);

std::string format_bytes(double bytes);              // "64 MiB", "1.5 KiB", "12 B"
std::string format_duration(std::chrono::nanoseconds d);  // "500ms", "2s", "250ns"

std::ostream& operator<<(std::ostream& os, const ByteSize& s);  // for defaults in --help
std::ostream& operator<<(std::ostream& os, const Duration& d);
std::ostream& operator<<(std::ostream& os, const Count& c);
std::ostream& operator<<(std::ostream& os, const Rate& r);

// Boost.Program_options hooks (found by ADL).
void validate(boost::any& v, const std::vector<std::string>& values, ByteSize*, int);
void validate(boost::any& v, const std::vector<std::string>& values, Duration*, int);
void validate(boost::any& v, const std::vector<std::string>& values, Count*, int);
void validate(boost::any& v, const std::vector<std::string>& values, Rate*, int);

// What every app's main() does: parse (bad option/value → one line on stderr, exit 2), handle
// --help (with `usage` examples) and --version, then run `body`. A shmkit::Error from the body
// → "<app>: <message>" on stderr and exit 1 (exit 2 and "(see --help)" for invalid_argument,
// which only a bad value causes); the body's own return value otherwise.
struct AppSpec {
  std::string name;         // "shmkit-reader"
  std::string summary;      // one line: what it does
  std::string usage;        // example invocations, one per line
  boost::program_options::options_description options;
  boost::program_options::positional_options_description positional;
};
int run_app(int argc, char** argv, AppSpec& spec,
            const std::function<int(const boost::program_options::variables_map&)>& body);

}  // namespace shmkit::apps
