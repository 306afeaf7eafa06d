// Test support on Windows (child_process.hpp; child_process.cpp is the POSIX one): a real child
// process started with CreateProcessA, waited for with WaitForSingleObject, and killed with
// TerminateProcess, the counterpart of SIGKILL.
//
// How POSIX notions map:
//  * kill(sig): TerminateProcess with exit code 128 + sig for any sig but 0 (Windows cannot
//    deliver signals to another process); the child's status then says signal = sig, as after a
//    POSIX kill. kill(0) does nothing.
//  * A child that crashes ends with an NTSTATUS exception code (0xC0000005 access violation...):
//    its status says exited = false, signal = the closest POSIX signal (SIGSEGV, SIGILL, SIGFPE,
//    else SIGABRT's POSIX number 6), code = the raw exit code. abort() in a mingw/MSVCRT child
//    is exit code 3: that reads as exited with code 3.
//  * open_fd_count(): the process's handle count (GetProcessHandleCount; under Wine, which
//    answers 0 there, its entries in the system handle table): tests compare it before and
//    after, which is what they need (it also counts handles that are not files).
//  * Crashes stay quiet on Windows: children are started with the error mode
//    SEM_NOGPFAULTERRORBOX | SEM_FAILCRITICALERRORS (inherited), so a crashing child does not
//    open a Windows Error Reporting dialog, which would hang a CI run until its timeout. Wine 8
//    neither passes the error mode on nor honours it: there, WINEDLLOVERRIDES=winedbg.exe=d
//    (set by cmake/toolchains/mingw-w64.cmake) keeps winedbg from dumping the crash into the log.
//  * pid(): the Windows process id. The process handle (the "reaping" right) is kept in a table
//    keyed by pid, because ChildProcess (child_process.hpp) has no member for it. The pid is not
//    reused while that handle is open.
//  * Children are put in a job that kills them when this process ends, however it ends (the
//    POSIX version kills them in ~ChildProcess only). Best effort: where the job cannot be made
//    or joined, children run outside it.
//  * stdout/stderr: inherited (a duplicate of this process's standard handles), or files when
//    paths are given. Under Wine a child's output reaches the parent's pipe this way.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include "child_process.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace shmkit::test {
namespace {

// Windows' <signal.h> lacks the POSIX numbers that tests use; these are Linux's.
constexpr int kSigKill = 9;
constexpr int kSigSegv = 11;
constexpr int kSigIll = 4;
constexpr int kSigFpe = 8;
constexpr int kSigAbrtPosix = 6;
constexpr DWORD kKillExitBase = 128;

std::string windows_error(const char* what) {
  const DWORD code = ::GetLastError();
  char* text = nullptr;
  const DWORD n = ::FormatMessageA(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code,
      MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), reinterpret_cast<LPSTR>(&text), 0, nullptr);
  std::string out = std::string(what) + ": Windows error " + std::to_string(code);
  if (n != 0 && text != nullptr) {
    std::string msg(text, n);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    out += " (" + msg + ")";
  }
  if (text != nullptr) ::LocalFree(text);
  return out;
}

struct Child {
  HANDLE process = nullptr;
  int killed_with = 0;  // the signal kill() was asked for, 0 if none
};

std::mutex& table_mutex() {
  static std::mutex m;
  return m;
}
std::map<pid_t, Child>& table() {
  static std::map<pid_t, Child> t;
  return t;
}

HANDLE handle_of(pid_t pid) {
  std::lock_guard lock(table_mutex());
  const auto it = table().find(pid);
  return it == table().end() ? nullptr : it->second.process;
}

// Closes the handle and forgets the child; returns what kill() had asked for.
int forget(pid_t pid) {
  std::lock_guard lock(table_mutex());
  const auto it = table().find(pid);
  if (it == table().end()) return 0;
  const int killed_with = it->second.killed_with;
  ::CloseHandle(it->second.process);
  table().erase(it);
  return killed_with;
}

// One job for all children of this process: closing its last handle (this process ending, even
// killed) terminates them.
HANDLE children_job() {
  static const HANDLE job = [] {
    HANDLE j = ::CreateJobObjectA(nullptr, nullptr);
    if (j == nullptr) return j;
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!::SetInformationJobObject(j, JobObjectExtendedLimitInformation, &limits, sizeof limits)) {
      ::CloseHandle(j);
      return HANDLE{nullptr};
    }
    return j;
  }();
  return job;
}

ExitStatus decode(DWORD code, int killed_with) {
  ExitStatus s;
  if (killed_with != 0 && code == kKillExitBase + static_cast<DWORD>(killed_with)) {
    s.signal = killed_with;
    s.code = static_cast<int>(code);
    return s;
  }
  if ((code & 0xF0000000u) == 0xC0000000u) {  // NTSTATUS error: the child crashed
    switch (code) {
      case 0xC0000005u:  // STATUS_ACCESS_VIOLATION
      case 0xC00000FDu:  // STATUS_STACK_OVERFLOW
      case 0xC0000006u:  // STATUS_IN_PAGE_ERROR (the SIGBUS of mapped files)
        s.signal = kSigSegv;
        break;
      case 0xC000001Du:  // STATUS_ILLEGAL_INSTRUCTION
      case 0xC0000096u:  // STATUS_PRIVILEGED_INSTRUCTION
        s.signal = kSigIll;
        break;
      case 0xC0000094u:  // STATUS_INTEGER_DIVIDE_BY_ZERO
      case 0xC0000095u:  // STATUS_INTEGER_OVERFLOW
      case 0xC000008Eu:  // STATUS_FLOAT_DIVIDE_BY_ZERO
      case 0xC0000090u:  // STATUS_FLOAT_INVALID_OPERATION
        s.signal = kSigFpe;
        break;
      default: s.signal = kSigAbrtPosix; break;
    }
    s.code = static_cast<int>(code);
    return s;
  }
  s.exited = true;
  s.code = static_cast<int>(code);
  return s;
}

// Quotes one argument so that the child's CommandLineToArgvW / MSVCRT parser gets it back as is.
void append_quoted(std::string& cmd, const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string::npos) {
    cmd += arg;
    return;
  }
  cmd += '"';
  for (std::size_t i = 0;; ++i) {
    std::size_t backslashes = 0;
    while (i < arg.size() && arg[i] == '\\') {
      ++i;
      ++backslashes;
    }
    if (i == arg.size()) {
      cmd.append(backslashes * 2, '\\');  // doubled: the closing quote stays a quote
      break;
    }
    if (arg[i] == '"') {
      cmd.append(backslashes * 2 + 1, '\\');
      cmd += '"';
    } else {
      cmd.append(backslashes, '\\');
      cmd += arg[i];
    }
  }
  cmd += '"';
}

bool file_exists(const std::string& path) {
  const DWORD a = ::GetFileAttributesA(path.c_str());
  return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) == 0;
}

// "helper" names "helper.exe" when only that exists, as a POSIX test names its helper binary.
std::string resolve_program(const std::string& program) {
  if (file_exists(program)) return program;
  if (file_exists(program + ".exe")) return program + ".exe";
  return program;  // CreateProcess reports what is wrong
}

// An inheritable duplicate of `h` (owned by the caller), or null when there is nothing to pass.
HANDLE inheritable(HANDLE h) {
  if (h == nullptr || h == INVALID_HANDLE_VALUE) return nullptr;
  HANDLE dup = nullptr;
  if (!::DuplicateHandle(::GetCurrentProcess(), h, ::GetCurrentProcess(), &dup, 0, TRUE, DUPLICATE_SAME_ACCESS))
    return nullptr;
  return dup;
}

HANDLE open_output(const std::string& path) {
  SECURITY_ATTRIBUTES sa{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  const HANDLE h = ::CreateFileA(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
                                 CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) throw std::runtime_error(windows_error(("cannot create " + path).c_str()));
  return h;
}

struct OwnedHandles {
  HANDLE h[3] = {nullptr, nullptr, nullptr};
  ~OwnedHandles() {
    for (HANDLE x : h)
      if (x != nullptr) ::CloseHandle(x);
  }
};

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  if (signal != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08X", static_cast<unsigned>(code));
    if (signal == kSigKill && static_cast<unsigned>(code) == kKillExitBase + kSigKill)
      return "killed by signal 9 (TerminateProcess)";
    return "killed by signal " + std::to_string(signal) + " (Windows exit code " + hex + ")";
  }
  return "still running";
}

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args)
    : ChildProcess(program, args, "", "") {}

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::string& stdout_path, const std::string& stderr_path) {
  const std::string exe = resolve_program(program);
  std::string cmd;
  append_quoted(cmd, program);  // argv[0] as the caller spelled it, as execv does
  for (const auto& a : args) {
    cmd += ' ';
    append_quoted(cmd, a);
  }

  OwnedHandles std_handles;
  std_handles.h[0] = inheritable(::GetStdHandle(STD_INPUT_HANDLE));
  std_handles.h[1] = stdout_path.empty() ? inheritable(::GetStdHandle(STD_OUTPUT_HANDLE)) : open_output(stdout_path);
  std_handles.h[2] = stderr_path.empty() ? inheritable(::GetStdHandle(STD_ERROR_HANDLE)) : open_output(stderr_path);

  STARTUPINFOA si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = std_handles.h[0];
  si.hStdOutput = std_handles.h[1];
  si.hStdError = std_handles.h[2];
  // Inherited by the child: no crash dialog, no debugger, just an exit code (see the top).
  ::SetErrorMode(::GetErrorMode() | SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
  PROCESS_INFORMATION pi{};
  // Suspended until it is in the job, so that not even its first instruction runs outside it.
  // (Other inheritable handles of this process, e.g. another thread's redirect files, are
  // inherited too: tests start children from one thread.)
  if (!::CreateProcessA(exe.c_str(), cmd.data(), nullptr, nullptr, TRUE, CREATE_SUSPENDED, nullptr, nullptr, &si, &pi))
    throw std::runtime_error(windows_error(("CreateProcess " + exe).c_str()));
  if (const HANDLE job = children_job()) ::AssignProcessToJobObject(job, pi.hProcess);  // best effort
  ::ResumeThread(pi.hThread);
  ::CloseHandle(pi.hThread);
  pid_ = static_cast<pid_t>(pi.dwProcessId);
  std::lock_guard lock(table_mutex());
  table()[pid_] = Child{pi.hProcess, 0};
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::move(other.status_)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    if (const HANDLE h = handle_of(pid_)) {
      ::TerminateProcess(h, kKillExitBase + kSigKill);
      ::WaitForSingleObject(h, INFINITE);
    }
    forget(pid_);
  }
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const HANDLE h = handle_of(pid_);
  if (h == nullptr) throw std::runtime_error("wait for child " + std::to_string(pid_) + ": not a child of this process");
  const auto ms = std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, INFINITE - 1);
  const DWORD r = ::WaitForSingleObject(h, static_cast<DWORD>(ms));
  if (r == WAIT_TIMEOUT) return std::nullopt;
  if (r != WAIT_OBJECT_0) throw std::runtime_error(windows_error("WaitForSingleObject"));
  DWORD code = 0;
  if (!::GetExitCodeProcess(h, &code)) throw std::runtime_error(windows_error("GetExitCodeProcess"));
  status_ = decode(code, forget(pid_));
  return status_;
}

ExitStatus ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (auto s = wait_for(timeout)) return *s;
  BOOST_TEST_MESSAGE("child " << pid_ << " did not finish in " << timeout.count() << " ms: killing it");
  kill(kSigKill);
  if (auto s = wait_for(std::chrono::milliseconds(INFINITE - 1))) return *s;
  throw std::runtime_error("child " + std::to_string(pid_) + " survived TerminateProcess");
}

void ChildProcess::kill(int signal) {
  if (pid_ <= 0 || status_ || signal == 0) return;
  std::lock_guard lock(table_mutex());
  const auto it = table().find(pid_);
  if (it == table().end()) return;
  // Fails (access denied) when the child has already exited: its own exit code then stands.
  if (::TerminateProcess(it->second.process, kKillExitBase + static_cast<DWORD>(signal)))
    it->second.killed_with = signal;
}

std::string helper_path(const std::string& name) {
  // The running test's own path (argv[0] may be relative, or a Unix path under Wine).
  char self[MAX_PATH * 4];
  const DWORD n = ::GetModuleFileNameA(nullptr, self, sizeof self);
  std::string dir = n > 0 && n < sizeof self ? std::string(self, n)
                                             : std::string(boost::unit_test::framework::master_test_suite().argv[0]);
  const auto slash = dir.find_last_of("\\/");
  dir = slash == std::string::npos ? "." : dir.substr(0, slash);
  const auto base = name.find_last_of("\\/");
  const bool has_extension = name.find('.', base == std::string::npos ? 0 : base) != std::string::npos;
  return dir + "\\" + name + (has_extension ? "" : ".exe");
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::GetCurrentProcessId()) + "-" + std::to_string(counter++);
}

namespace {

// This process's handles in the system's handle table (NtQuerySystemInformation, class 64:
// SystemExtendedHandleInformation); -1 if it cannot be read.
int count_handles_in_system_table() {
  struct Entry {
    void* object;
    ULONG_PTR pid;
    ULONG_PTR handle;
    ULONG access;
    USHORT backtrace_index;
    USHORT type_index;
    ULONG attributes;
    ULONG reserved;
  };
  struct Table {
    ULONG_PTR count;
    ULONG_PTR reserved;
    Entry entries[1];
  };
  using Query = LONG(WINAPI*)(ULONG, void*, ULONG, ULONG*);
  const HMODULE ntdll = ::GetModuleHandleA("ntdll.dll");
  const auto query = ntdll ? reinterpret_cast<Query>(reinterpret_cast<void*>(::GetProcAddress(ntdll, "NtQuerySystemInformation")))
                           : nullptr;
  if (query == nullptr) return -1;
  std::vector<char> buffer(1 << 16);
  for (int attempt = 0; attempt < 16; ++attempt) {
    ULONG needed = 0;
    const LONG status = query(64, buffer.data(), static_cast<ULONG>(buffer.size()), &needed);
    if (status == static_cast<LONG>(0xC0000004)) {  // STATUS_INFO_LENGTH_MISMATCH
      buffer.resize(std::max<std::size_t>(buffer.size() * 2, needed + 4096));
      continue;
    }
    if (status != 0) return -1;
    const auto* table = reinterpret_cast<const Table*>(buffer.data());
    const ULONG_PTR self = ::GetCurrentProcessId();
    int n = 0;
    for (ULONG_PTR i = 0; i < table->count; ++i)
      if (table->entries[i].pid == self) ++n;
    return n;
  }
  return -1;
}

}  // namespace

int open_fd_count() {
  DWORD count = 0;
  if (::GetProcessHandleCount(::GetCurrentProcess(), &count) && count > 0) return static_cast<int>(count);
  // Wine 8 answers 0 (a stub): count this process's entries in the system handle table instead.
  return count_handles_in_system_table();
}

}  // namespace shmkit::test
