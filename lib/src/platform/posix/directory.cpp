#include <dirent.h>

#include "directory.hpp"

namespace shmkit::detail {

std::vector<std::string> directory_entries(const std::string& dir, HiddenEntries hidden) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (name[0] != '.' || hidden == HiddenEntries::include) names.push_back(name);
  }
  ::closedir(d);
  return names;
}

}  // namespace shmkit::detail
