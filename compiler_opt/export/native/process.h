// Processes, signals and the private folder of mlgo-clang (see driver.cc).
//
// The private folder (FIFOs, the driver's intermediates) is removed on every way out: a normal exit, an
// error, and SIGINT/SIGTERM/SIGHUP/SIGQUIT, whose handler forwards the signal to the running child,
// waits for it briefly (then kills it), removes the folder with async-signal-safe calls only
// (open/getdents64/unlinkat/rmdir), and re-raises the signal with its default action. SIGKILL cannot be
// caught: a mlgo-clang killed that way leaves its folder (mlgo-native-XXXXXX under $TMPDIR) behind.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace mlgo_process {

constexpr int kHandled[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Read by the signal handler; written only with the handled signals blocked.
inline char g_private[PATH_MAX] = "";
inline volatile pid_t g_child = 0;
inline sigset_t g_original_mask;

inline void remove_private_dir() {
  if (g_private[0] == '\0') return;
  int dir = open(g_private, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    alignas(8) char buffer[4096];
    for (;;) {
      long n = syscall(SYS_getdents64, dir, buffer, sizeof buffer);
      if (n <= 0) break;
      for (long at = 0; at < n;) {
        struct Entry {  // struct linux_dirent64
          unsigned long long ino;
          long long off;
          unsigned short reclen;
          unsigned char type;
          char name[1];
        };
        const Entry *entry = reinterpret_cast<const Entry *>(buffer + at);
        const char *name = entry->name;
        if (!(name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))))
          if (unlinkat(dir, name, 0) != 0) unlinkat(dir, name, AT_REMOVEDIR);
        at += entry->reclen;
      }
    }
    close(dir);
  }
  rmdir(g_private);
  g_private[0] = '\0';
}

inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

// Forward, wait up to ~2 s for the child to go, kill it if it has not, clean up, die of the same signal.
inline void on_signal(int sig) {
  pid_t child = g_child;
  if (child > 0) {
    kill(child, sig);
    int status;
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      pid_t r = waitpid(child, &status, WNOHANG);
      gone = r == child || (r < 0 && errno != EINTR);
      if (!gone) sleep_ms(10);
    }
    if (!gone) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
    }
  }
  remove_private_dir();
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, nullptr);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
  raise(sig);
  _exit(128 + sig);
}

inline sigset_t handled_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kHandled) sigaddset(&set, sig);
  return set;
}

// Blocks the handled signals for the scope (while g_child / g_private change).
class BlockSignals {
 public:
  BlockSignals() {
    sigset_t set = handled_set();
    sigprocmask(SIG_BLOCK, &set, &saved_);
  }
  ~BlockSignals() { sigprocmask(SIG_SETMASK, &saved_, nullptr); }

 private:
  sigset_t saved_;
};

inline void install_handlers() {
  sigprocmask(SIG_SETMASK, nullptr, &g_original_mask);
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  action.sa_mask = handled_set();  // one handler at a time
  for (int sig : kHandled) {
    struct sigaction old;
    sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // e.g. nohup: keep ignoring, as clang would
    sigaction(sig, &action, nullptr);
  }
}

// The private folder under $TMPDIR (or /tmp); false with errno set when it cannot be made.
inline bool make_private_dir() {
  const char *tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/mlgo-native-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (buffer.size() > sizeof g_private) return errno = ENAMETOOLONG, false;
  BlockSignals block;
  if (mkdtemp(buffer.data()) == nullptr) return false;
  std::memcpy(g_private, buffer.data(), buffer.size());
  return true;
}

inline std::vector<char *> c_argv(const std::vector<std::string> &args) {
  std::vector<char *> out;
  for (const std::string &arg : args) out.push_back(const_cast<char *>(arg.c_str()));
  out.push_back(nullptr);
  return out;
}

// Starts `args` (args[0] a path) as g_child. `stdin_fd`/`stdout_fd`/`stderr_fd` >= 0 replace the child's;
// `env` (when not null) replaces its environment. The child starts with default signal handling.
inline pid_t spawn(const std::vector<std::string> &args, char *const *env = nullptr, int stdin_fd = -1,
                   int stdout_fd = -1, int stderr_fd = -1) {
  std::vector<char *> argv = c_argv(args);
  BlockSignals block;
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig : kHandled) {
      struct sigaction old;
      sigaction(sig, nullptr, &old);
      if (old.sa_handler != SIG_IGN) sigaction(sig, &dfl, nullptr);
    }
    sigprocmask(SIG_SETMASK, &g_original_mask, nullptr);
    if (stdin_fd >= 0) dup2(stdin_fd, 0);
    if (stdout_fd >= 0) dup2(stdout_fd, 1);
    if (stderr_fd >= 0) dup2(stderr_fd, 2);
    if (env != nullptr) execve(argv[0], argv.data(), env);
    else execv(argv[0], argv.data());
    dprintf(2, "mlgo-clang: error: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  if (pid > 0) g_child = pid;
  return pid;
}

// Waits for the current child; its wait status. Clears g_child.
// It waits without reaping first, so the signal handler never sees a reaped (possibly reused) pid.
inline int wait_child(pid_t pid) {
  siginfo_t info;
  while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  BlockSignals block;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  return status;
}

}  // namespace mlgo_process
