// An environment variable set (or unset) for the length of a scope, then restored: for tests of
// paths that depend on XDG_RUNTIME_DIR. Not thread-safe, as setenv() is not.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace shmkit::test {

class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* saved = std::getenv(name_.c_str())) old_ = saved;
    set(value);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void set(const std::string& value) { ::setenv(name_.c_str(), value.c_str(), 1); }
  void unset() { ::unsetenv(name_.c_str()); }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace shmkit::test
