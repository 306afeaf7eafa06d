// Boost.Interprocess's absolute time (boost::posix_time::ptime, UTC) as a shmkit deadline, so
// shmkit's sync types accept Boost's timed_lock / timed_wait spellings.
#pragma once

#include <boost/date_time/posix_time/posix_time_types.hpp>

#include "shmkit/detail/deadline.hpp"

namespace shmkit::detail {

// Boost.Interprocess compares ptime against microsec_clock::universal_time(); measured once here,
// then the wait runs on the steady clock like every other shmkit wait.
inline DeadlineNs deadline_from_ptime(const boost::posix_time::ptime& abs_time) noexcept {
  if (abs_time.is_pos_infinity()) return kNoDeadline;
  if (abs_time.is_special()) return steady_now_ns();  // neg_infin / not_a_date_time: already passed
  const boost::posix_time::time_duration left = abs_time - boost::posix_time::microsec_clock::universal_time();
  return deadline_after(std::chrono::microseconds(left.total_microseconds()));
}

}  // namespace shmkit::detail
