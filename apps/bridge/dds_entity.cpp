#include "dds_entity.hpp"

#include "shmkit/error.hpp"

namespace shmkit::bridge {

dds_entity_t dds_check(dds_entity_t result, const std::string& what) {
  if (result < 0)
    throw Error(Errc::system, what + " failed: " + dds_strretcode(result) +
                                    " (is CYCLONEDDS_URI pointing at a valid configuration?)");
  return result;
}

}  // namespace shmkit::bridge
