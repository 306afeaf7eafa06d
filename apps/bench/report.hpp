// What shmkit-bench prints and writes: the table, the goals (ratios computed from results of
// the same run) and the JSON document.
#pragma once

#include <string>
#include <vector>

#include "harness.hpp"

namespace shmkit::bench {

struct Goal {
  std::string id;
  std::string text;      // the goal as the issue states it
  double value = 0;      // the measured ratio (or absolute figure)
  double limit = 0;
  bool at_most = true;   // value <= limit passes; otherwise value >= limit passes
  std::string status;    // PASS, MISS, n/a (a case was skipped or not built) or info
  bool informational = false;  // shown with its ratio, not a goal of the issue (status "info")
  std::string detail;    // the two figures the ratio came from
};

std::vector<Goal> evaluate_goals(const Results& results);

struct Machine {
  std::string cpu_model, kernel;
  int cpus = 0;
  double load_start[3] = {0, 0, 0}, load_end[3] = {0, 0, 0};
  double seconds = 0;  // wall time of the run
};
Machine describe_machine();

void print_table(const Results& results, const std::vector<Goal>& goals, const Machine& m);
std::string to_json(const Results& results, const std::vector<Goal>& goals, const Machine& m, const Settings& s);

}  // namespace shmkit::bench
