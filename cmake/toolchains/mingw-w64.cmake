# Cross-compiling shmkit for 64-bit Windows with Debian's mingw-w64, running tests under Wine.
#
#   apt-get install -y --no-install-recommends g++-mingw-w64-x86-64 wine64 wine
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64.cmake \
#         [-DSHMKIT_BOOST_HEADERS_DIR=/path/holding/only/boost]
#   cmake --build build-win && ctest --test-dir build-win     # each test runs as `wine test.exe`
#
# * Compiler: the posix-threads variant (x86_64-w64-mingw32-g++-posix): std::thread, std::mutex
#   and friends need it; the win32 variant has no <thread> on GCC 12.
# * Executables link libgcc, libstdc++ and winpthread statically (-static), so an .exe runs
#   under Wine or on Windows without copying libstdc++-6.dll / libwinpthread-1.dll next to it.
# * Boost: headers only. Point SHMKIT_BOOST_HEADERS_DIR at a directory whose only entry is
#   boost/ (e.g. a symlink to /usr/include/boost): never -I/usr/include, which would pull glibc's
#   headers into a Windows build. Left unset, this file makes such a directory in the build tree
#   (<build>/_shmkit_boost_headers/boost -> ${SHMKIT_BOOST_SOURCE}, default /usr/include/boost).
#   Debian has no mingw build of any compiled Boost library: Boost.Test must be used header-only
#   (boost/test/included/unit_test.hpp), Program_options not at all.
# * Tests: CMAKE_CROSSCOMPILING_EMULATOR is `env ${SHMKIT_WINE_ENV} wine`, so CTest (and
#   add_test(COMMAND <target>)) runs every test .exe through Wine. WINEPREFIX is taken from the
#   environment (default ~/.wine; the first start creates it, ~5 s).
# * Start Wine once before CTest, with its output away from CTest's pipes:
#     wineserver -p >/dev/null 2>&1 </dev/null          # persistent: stays until wineserver -k
#     WINEDEBUG=-all wine wineboot >/dev/null 2>&1 </dev/null
#     ctest ...; wineserver -k
#   Without it each test pays ~3 s: Wine's helper processes (services.exe, winedevice.exe...)
#   started by the test inherit CTest's output pipe, and CTest waits until wineserver's 3 s
#   linger ends before it sees the test finish (3 trivial tests: 9.4 s -> 0.4 s). Never start
#   `wineserver -p` with CTest's (or a CI step's) stdout: it keeps that pipe open forever.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(SHMKIT_MINGW_TRIPLE x86_64-w64-mingw32)

set(CMAKE_C_COMPILER ${SHMKIT_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${SHMKIT_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${SHMKIT_MINGW_TRIPLE}-windres)

# Look for headers, libraries and packages only in the mingw sysroot (and the Boost header
# directory below), never in the host's /usr; programs (wine, python) on the host.
set(CMAKE_FIND_ROOT_PATH /usr/${SHMKIT_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static runtime: libgcc, libstdc++ and libwinpthread go into every .exe and .dll.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

# ---- Boost headers ----
set(SHMKIT_BOOST_SOURCE "/usr/include/boost" CACHE PATH
    "Boost's header directory (the boost/ folder itself) used when SHMKIT_BOOST_HEADERS_DIR is not given")
if(NOT SHMKIT_BOOST_HEADERS_DIR AND NOT CMAKE_IN_TRY_COMPILE AND CMAKE_BINARY_DIR)
  set(_shmkit_boost_dir "${CMAKE_BINARY_DIR}/_shmkit_boost_headers")
  if(NOT EXISTS "${_shmkit_boost_dir}/boost/version.hpp")
    file(MAKE_DIRECTORY "${_shmkit_boost_dir}")
    file(CREATE_LINK "${SHMKIT_BOOST_SOURCE}" "${_shmkit_boost_dir}/boost" SYMBOLIC RESULT _shmkit_link_result)
    if(NOT _shmkit_link_result EQUAL 0)
      message(FATAL_ERROR "mingw-w64 toolchain: cannot link ${_shmkit_boost_dir}/boost -> ${SHMKIT_BOOST_SOURCE} "
                          "(${_shmkit_link_result}); pass -DSHMKIT_BOOST_HEADERS_DIR=<dir holding only boost/>")
    endif()
  endif()
  set(SHMKIT_BOOST_HEADERS_DIR "${_shmkit_boost_dir}" CACHE PATH
      "Directory whose only entry is boost/ (Boost's headers), for the mingw-w64 build")
endif()
if(SHMKIT_BOOST_HEADERS_DIR)
  if(NOT EXISTS "${SHMKIT_BOOST_HEADERS_DIR}/boost/version.hpp")
    message(FATAL_ERROR "mingw-w64 toolchain: SHMKIT_BOOST_HEADERS_DIR=${SHMKIT_BOOST_HEADERS_DIR} has no "
                        "boost/version.hpp; it must be a directory holding boost/ (a symlink to /usr/include/boost will do)")
  endif()
  # Searches are re-rooted (MODE_INCLUDE ONLY): let them reach this directory too.
  list(APPEND CMAKE_FIND_ROOT_PATH "${SHMKIT_BOOST_HEADERS_DIR}")
  # FindBoost (CMake's module; the host's BoostConfig.cmake describes host libraries): headers only.
  set(Boost_NO_BOOST_CMAKE ON CACHE BOOL "")
  set(Boost_NO_SYSTEM_PATHS ON CACHE BOOL "")
  set(Boost_INCLUDE_DIR "${SHMKIT_BOOST_HEADERS_DIR}" CACHE PATH "Boost headers for the mingw-w64 build")
  set(BOOST_INCLUDEDIR "${SHMKIT_BOOST_HEADERS_DIR}")
endif()

# ---- Running the .exe files: Wine ----
# WINEDEBUG=-all: no Wine diagnostics in test logs (and no "wine32 is missing" hint from Debian's
# wrapper). winedbg.exe=d: a crashing test or child exits with its exception code (0xC0000005...)
# instead of Wine starting winedbg, which prints a crash dump into the log and takes a while.
# Empty it to get Wine's crash dumps back.
set(SHMKIT_WINE_ENV "WINEDEBUG=-all;WINEDLLOVERRIDES=winedbg.exe=d" CACHE STRING
    "Environment (VAR=value;...) for programs run under Wine by CTest")
find_program(SHMKIT_WINE NAMES wine wine64 wine-stable PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(SHMKIT_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR env ${SHMKIT_WINE_ENV} "${SHMKIT_WINE}")
elseif(NOT CMAKE_IN_TRY_COMPILE)
  message(WARNING "mingw-w64 toolchain: wine not found: tests will build but ctest cannot run them "
                  "(apt-get install wine64 wine)")
endif()

# try_compile() projects load this file again: hand them the same choices.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SHMKIT_BOOST_HEADERS_DIR SHMKIT_BOOST_SOURCE SHMKIT_WINE_ENV)
