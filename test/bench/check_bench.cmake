# Runs `shmkit-bench --quick --json JSON` and checks the document (cmake -P; needs CMake 3.19
# for string(JSON)): every case present, each either measured with a positive figure or
# skipped with a reason, zero frames lost and no payload errors on lossless paths, and every
# goal evaluated. No timing thresholds.
cmake_minimum_required(VERSION 3.19)  # string(JSON), IN_LIST
execute_process(COMMAND ${BENCH} --quick --json ${JSON} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "shmkit-bench --quick failed (${rc}):\n${err}\n${out}")
endif()
file(READ ${JSON} doc)

# The cases the goals are computed from, and one of each family: all must be there.
set(required
  latency/floor/cacheline latency/ipc/futex latency/ipc/eventfd latency/ipc/eventfd-epoll latency/ipc/pipe latency/ipc/stream
  latency/ipc/seqpacket latency/ipc/mq
  latency/channel/broadcast/busy/64 latency/channel/broadcast/busy/1M latency/channel/broadcast/spin/64
  latency/channel/broadcast/block/64 latency/channel/queue/busy/64 latency/channel/queue/block/64
  throughput/floor/memcpy/64 throughput/floor/memcpy/1M throughput/floor/stream/64 throughput/floor/in-place/1M
  throughput/ring/64 throughput/ring/1M
  throughput/ipc/mq/64 throughput/ipc/pipe/64 throughput/ipc/stream/1M
  throughput/channel/queue/copy/64/r1 throughput/channel/queue/copy+batch16/64/r1 throughput/channel/queue/loan/1M/r1 throughput/channel/queue/copy+crc/1M/r1
  throughput/channel/broadcast/copy/64/r1 throughput/channel/broadcast/copy+batch16/64/r1
  throughput/channel/broadcast/copy/64/r4
  throughput/channel/broadcast/loan/1M/r1 throughput/channel/broadcast/writer-alone/64
  throughput/channel/lossless/copy/64/r1 throughput/channel/lossless/copy/64/r2 throughput/channel/queue-x2/copy/64/r2
  latency/handover/loan-touch/64 latency/handover/loan-touch/1M latency/handover/loan-touch/16M
  latency/handover/loan-read/1M latency/handover/copy/1M
  syscalls/publish/strace
  latency/channel/broadcast/epoll-eventfd/64 latency/channel/broadcast/epoll-thread/64
  publish/fd-subscribers/0 publish/fd-subscribers/4/asleep publish/fd-subscribers/4/awake
  syscalls/publish/fd-subscribers/1/awake
  state/map/10k/insert/std state/map/10k/insert/shmkit state/map/10k/insert/shmkit-btree
  state/map/1M/insert/shmkit-btree state/find-by-name
  state/attach/named/64M state/attach/memfd/64M state/attach/memfd/1G state/attach/memfd/1G-max-64M-used
  state/attach/floor-shm-open/64M state/attach/floor-fd-pass/64M state/attach/floor-wake/64M
  state/attach/floor-fd-touch/64M state/attach/floor-fd-touch/1G state/attach/floor-fd-touch/1G-max-64M-used
  latency/iceoryx/busy/64 throughput/iceoryx/64 throughput/iceoryx/64/r2 throughput/iceoryx/loan/1M)

string(JSON n LENGTH "${doc}" results)
if(n LESS 90)
  message(FATAL_ERROR "only ${n} results in ${JSON}")
endif()
set(seen "")
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON id GET "${doc}" results ${i} id)
  string(JSON metric GET "${doc}" results ${i} metric)
  string(JSON skipped GET "${doc}" results ${i} skipped)
  list(APPEND seen ${id})
  if(skipped)
    string(JSON note ERROR_VARIABLE no_note GET "${doc}" results ${i} note)
    if(no_note OR note STREQUAL "")
      message(FATAL_ERROR "${id}: skipped without a reason")
    endif()
    continue()
  endif()
  if(metric STREQUAL "throughput")
    string(JSON rate GET "${doc}" results ${i} msgs_per_s)
    string(JSON lossless GET "${doc}" results ${i} lossless)
    string(JSON lost GET "${doc}" results ${i} lost)
    if(NOT rate GREATER 0)
      message(FATAL_ERROR "${id}: no throughput measured (${rate})")
    endif()
    if(lossless AND NOT lost EQUAL 0)
      message(FATAL_ERROR "${id}: ${lost} frames lost on a lossless path")
    endif()
    string(JSON perr ERROR_VARIABLE no_perr GET "${doc}" results ${i} extra payload_errors)
    if(NOT no_perr AND NOT perr EQUAL 0)
      message(FATAL_ERROR "${id}: ${perr} frames with wrong payload or order")
    endif()
  elseif(NOT id MATCHES "^syscalls/")
    string(JSON med GET "${doc}" results ${i} median_ns)
    if(NOT med GREATER 0)
      message(FATAL_ERROR "${id}: no latency/time measured (${med})")
    endif()
  endif()
endforeach()
foreach(id ${required})
  if(NOT id IN_LIST seen)
    message(FATAL_ERROR "case ${id} missing from ${JSON}")
  endif()
endforeach()

string(JSON g LENGTH "${doc}" goals)
if(g LESS 20)
  message(FATAL_ERROR "only ${g} goals evaluated")
endif()
math(EXPR last "${g} - 1")
foreach(i RANGE ${last})
  string(JSON gid GET "${doc}" goals ${i} id)
  string(JSON status GET "${doc}" goals ${i} status)
  string(JSON info GET "${doc}" goals ${i} informational)
  if(info)
    continue()  # a ratio shown for context, not a goal
  endif()
  if(NOT status MATCHES "^(PASS|MISS|info)$" AND NOT gid MATCHES "^iceoryx")
    message(FATAL_ERROR "goal ${gid}: ${status} (a case it needs did not run)")
  endif()
endforeach()
message(STATUS "shmkit-bench --quick: ${n} results, ${g} goals")
