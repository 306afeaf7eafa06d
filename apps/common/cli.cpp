#include "cli.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "shmkit/error.hpp"
#include "shmkit/version.hpp"

namespace shmkit::apps {

namespace po = boost::program_options;

namespace {

// Splits "1.5MiB" into 1.5 and "MiB"; the number must be finite and non-negative.
std::pair<double, std::string> split_number(std::string_view text, const char* what) {
  std::string s(text);
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(s, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("'" + s + "' is not a " + what);
  }
  if (!std::isfinite(value) || value < 0) throw std::invalid_argument("'" + s + "' is not a " + what);
  std::string unit = s.substr(used);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  return {value, unit};
}

// "option '--stall': '5xs': unknown duration unit ..." (the parser fills in the option's name).
po::error_with_option_name bad_value(const std::string& reason) {
  return po::error_with_option_name("option '%canonical_option%': " + reason);
}

}  // namespace

std::uint64_t parse_byte_size(std::string_view text) {
  auto [value, unit] = split_number(text, "size (e.g. 4096, 64KiB, 64MiB, 1GiB)");
  struct Unit {
    const char* name;
    double factor;
  };
  static constexpr Unit units[] = {{"", 1},          {"B", 1},           {"k", 1024},        {"K", 1024},
                                   {"KiB", 1024},    {"KB", 1000},       {"kB", 1000},       {"M", 1 << 20},
                                   {"MiB", 1 << 20}, {"MB", 1e6},        {"G", 1 << 30},     {"GiB", 1 << 30},
                                   {"GB", 1e9},      {"TiB", 1099511627776.0}};
  for (const Unit& u : units) {
    if (unit == u.name) {
      const double bytes = value * u.factor;
      if (bytes > 1.8e19) throw std::invalid_argument("size '" + std::string(text) + "' is too large");
      if (bytes != std::floor(bytes))
        throw std::invalid_argument("size '" + std::string(text) + "' is not a whole number of bytes");
      return static_cast<std::uint64_t>(bytes);
    }
  }
  throw std::invalid_argument("'" + std::string(text) + "': unknown size unit '" + unit +
                              "' (use B, KiB, MiB, GiB, KB, MB, GB)");
}

std::chrono::nanoseconds parse_duration(std::string_view text) {
  auto [value, unit] = split_number(text, "duration (e.g. 500ms, 2s, 10us)");
  struct Unit {
    const char* name;
    double ns;
  };
  static constexpr Unit units[] = {{"ns", 1},   {"us", 1e3},  {"ms", 1e6},      {"s", 1e9}, {"", 1e9},
                                   {"m", 60e9}, {"min", 60e9}, {"h", 3600e9}};
  for (const Unit& u : units) {
    if (unit == u.name) {
      const double ns = value * u.ns;
      if (ns > 9.2e18) throw std::invalid_argument("duration '" + std::string(text) + "' is too long");
      return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
    }
  }
  throw std::invalid_argument("'" + std::string(text) + "': unknown duration unit '" + unit +
                              "' (use ns, us, ms, s, m, h)");
}

std::uint64_t parse_count(std::string_view text) {
  const std::string s(text);
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("'" + s + "' is not a whole number (use digits only, at most 19 of them)");
  return std::stoull(s);
}

double parse_rate(std::string_view text) {
  const std::string s(text);
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || !std::isfinite(value) || value < 0 || (value != 0 && (value < kMinRate || value > kMaxRate)))
    throw std::invalid_argument("'" + s + "' is not a rate: give 0 (unthrottled) or a number of Hz from " +
                                std::to_string(kMinRate).substr(0, 5) + " to 1e8");
  return value;
}

std::string format_bytes(double bytes) {
  static const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (bytes >= 1024 && i < 4) {
    bytes /= 1024;
    ++i;
  }
  char buf[32];
  if (bytes == std::floor(bytes))
    std::snprintf(buf, sizeof buf, "%.0f %s", bytes, names[i]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", bytes, names[i]);
  return buf;
}

std::string format_duration(std::chrono::nanoseconds d) {
  const auto ns = d.count();
  struct Unit {
    std::int64_t ns;
    const char* name;
  };
  static constexpr Unit units[] = {{3600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
                                   {1'000'000, "ms"},        {1'000, "us"}};
  for (const Unit& u : units)
    if (ns != 0 && ns % u.ns == 0) return std::to_string(ns / u.ns) + u.name;
  return std::to_string(ns) + "ns";
}

std::ostream& operator<<(std::ostream& os, const ByteSize& s) {
  // Whole units read back the same way they parse: 64MiB, not 67108864.
  static const char* names[] = {"", "KiB", "MiB", "GiB"};
  std::uint64_t v = s.bytes;
  int i = 0;
  while (v != 0 && v % 1024 == 0 && i < 3) {
    v /= 1024;
    ++i;
  }
  return os << v << names[i];
}

std::ostream& operator<<(std::ostream& os, const Duration& d) { return os << format_duration(d.value); }
std::ostream& operator<<(std::ostream& os, const Count& c) { return os << c.value; }
std::ostream& operator<<(std::ostream& os, const Rate& r) { return os << r.per_second; }

void validate(boost::any& v, const std::vector<std::string>& values, ByteSize*, int) {
  po::validators::check_first_occurrence(v);
  const std::string& s = po::validators::get_single_string(values);
  try {
    v = ByteSize{parse_byte_size(s)};
  } catch (const std::invalid_argument& e) {
    throw bad_value(e.what());
  }
}

void validate(boost::any& v, const std::vector<std::string>& values, Duration*, int) {
  po::validators::check_first_occurrence(v);
  const std::string& s = po::validators::get_single_string(values);
  try {
    v = Duration{parse_duration(s)};
  } catch (const std::invalid_argument& e) {
    throw bad_value(e.what());
  }
}

void validate(boost::any& v, const std::vector<std::string>& values, Count*, int) {
  po::validators::check_first_occurrence(v);
  const std::string& s = po::validators::get_single_string(values);
  try {
    v = Count{parse_count(s)};
  } catch (const std::invalid_argument& e) {
    throw bad_value(e.what());
  }
}

void validate(boost::any& v, const std::vector<std::string>& values, Rate*, int) {
  po::validators::check_first_occurrence(v);
  const std::string& s = po::validators::get_single_string(values);
  try {
    v = Rate{parse_rate(s)};
  } catch (const std::invalid_argument& e) {
    throw bad_value(e.what());
  }
}

int run_app(int argc, char** argv, AppSpec& spec, const std::function<int(const po::variables_map&)>& body) {
  po::options_description common("General");
  common.add_options()("help,h", "show this help and exit")("version", "show the version and exit");
  po::options_description all;
  all.add(spec.options).add(common);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(spec.positional).run(), vm);
    if (vm.count("help") != 0) {
      std::cout << spec.name << ": " << spec.summary << "\n\nUsage examples:\n" << spec.usage << "\n" << all
                << "\n";
      return 0;
    }
    if (vm.count("version") != 0) {
      std::cout << spec.name << " (shmkit) " << SHMKIT_VERSION << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << spec.name << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  try {
    return body(vm);
  } catch (const shmkit::Error& e) {
    // In these apps an invalid argument to the library always comes from a command-line value.
    const bool bad_value = e.errc() == shmkit::Errc::invalid_argument;
    std::cerr << spec.name << ": " << e.what() << (bad_value ? " (see --help)\n" : "\n");
    return bad_value ? 2 : 1;
  } catch (const std::invalid_argument& e) {  // a bad value found after parsing (e.g. --set)
    std::cerr << spec.name << ": " << e.what() << " (see --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << spec.name << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace shmkit::apps
