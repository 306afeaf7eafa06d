// Consumer of an installed shmkit: builds a shared container and reads it through a second view.
#include <unistd.h>

#include <cstdio>
#include <string>

#include <shmkit/shmkit.hpp>

int main() {
  const std::string name = "shmkit-consumer-" + std::to_string(::getpid());
  try {
    shmkit::SegmentOptions options;
    options.backend = shmkit::Backend::named;
    int result = 1;
    {
      auto segment = shmkit::Segment::create(name, 1 << 20, options);
      using Index = shmkit::map<shmkit::string, shmkit::vector<int>>;
      segment.construct<Index>("index").emplace("primes", std::initializer_list<int>{2, 3, 5, 7});
      auto view = shmkit::Segment::open(name, options);
      const Index* index = view.find<Index>("index");
      if (index != nullptr && index->size() == 1 && index->begin()->second.back() == 7) result = 0;
    }
    shmkit::Segment::remove(name);
    std::printf("consumer: %s (shmkit %s)\n", result == 0 ? "OK" : "FAILED", SHMKIT_VERSION);
    return result;
  } catch (const shmkit::Error& e) {
    shmkit::Segment::remove(name);
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
