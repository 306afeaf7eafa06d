// Everything public in shmkit, in one include.
#pragma once

#include "shmkit/allocator.hpp"
#include "shmkit/btree_map.hpp"
#include "shmkit/channel.hpp"
#include "shmkit/condition.hpp"
#include "shmkit/containers.hpp"
#include "shmkit/control_server.hpp"
#include "shmkit/error.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/recursive_mutex.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_directory.hpp"
#include "shmkit/semaphore.hpp"
#include "shmkit/shared_mutex.hpp"
#include "shmkit/snapshot.hpp"
#include "shmkit/version.hpp"
