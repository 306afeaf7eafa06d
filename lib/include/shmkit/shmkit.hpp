// Everything public in shmkit, in one include.
#pragma once

#include "shmkit/allocator.hpp"
#include "shmkit/condition.hpp"
#include "shmkit/containers.hpp"
#include "shmkit/error.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/shared_mutex.hpp"
#include "shmkit/version.hpp"
