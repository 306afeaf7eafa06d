// Runs `f` and checks that it throws shmkit::Error with code `want` (a test failure otherwise,
// naming what was thrown or that nothing was).
#pragma once

#include <boost/test/unit_test.hpp>

#include "shmkit/error.hpp"

namespace shmkit::test {

template <class F>
void expect_errc(Errc want, F&& f) {
  try {
    f();
    BOOST_ERROR("expected " << to_string(want));
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == want, e.what());
  }
}

}  // namespace shmkit::test
