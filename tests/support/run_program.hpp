// Running a helper program from a unit test and looking at how it ended.
//
//   auto r = goro_test::run_program(goro_test::program_path("mutex_unlock_unlocked"));
//   CHECK(r.signal == SIGABRT);
//   CHECK(goro_test::contains(r.err, "unlock of unlocked"));
//
// The programs live in tests/programs/ and are built into GORO_TEST_PROGRAM_DIR.
// When the tests run under an emulator (qemu for the aarch64 build), the build
// names it in GORO_TEST_PROGRAM_LAUNCHER and programs are started through it.
//
// Also here: what is special about the build or the run (sanitizers,
// valgrind, an emulator), for tests that must scale down or skip a part.
#ifndef GORO_TEST_SUPPORT_RUN_PROGRAM_HPP
#define GORO_TEST_SUPPORT_RUN_PROGRAM_HPP

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>) && !defined(GORO_NO_VALGRIND)
#include <valgrind/valgrind.h>
#define GORO_TEST_HAVE_VALGRIND_H 1
#endif
#endif

extern "C" char** environ;

namespace goro_test {

/// How a program ended, and what it wrote.
struct program_result {
  int exit_code = -1;      ///< its exit status, or -1 if a signal ended it
  int signal = 0;          ///< the signal that ended it, or 0
  bool timed_out = false;  ///< it ran past the time limit and was killed
  std::string out;         ///< everything it wrote to stdout
  std::string err;         ///< everything it wrote to stderr

  /// Exited by itself with status 0.
  bool succeeded() const noexcept { return signal == 0 && exit_code == 0; }

  /// For failure messages: how it ended and its output.
  std::string describe() const {
    std::ostringstream s;
    if (timed_out) s << "timed out; ";
    if (signal != 0) {
      s << "killed by signal " << signal << " (" << ::strsignal(signal) << ")";
    } else {
      s << "exited with status " << exit_code;
    }
    s << "\n--- stdout ---\n" << out << "\n--- stderr ---\n" << err;
    return s.str();
  }
};

/// Whether `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// The path of tests/programs/<name> as built.
inline std::string program_path(const std::string& name) {
#if defined(GORO_TEST_PROGRAM_DIR)
  return std::string(GORO_TEST_PROGRAM_DIR) + "/" + name;
#else
  return name;
#endif
}

/// Whether a regular file exists at `path`.
inline bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Words of a command line (split at spaces; no quoting).
inline std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

/// Runs `path` with `args`, the environment of this process changed by
/// `env` ("NAME=value" sets, "NAME" alone removes), and waits for it,
/// collecting its stdout and stderr. A program still running after
/// `time_limit` is killed (timed_out is then set). Throws std::system_error
/// if it cannot be started.
inline program_result run_program(const std::string& path,
                                  const std::vector<std::string>& args = {},
                                  const std::vector<std::string>& env = {},
                                  std::chrono::seconds time_limit = std::chrono::seconds(300)) {
  // argv: [launcher words...] path args...
  std::vector<std::string> argv_s;
#if defined(GORO_TEST_PROGRAM_LAUNCHER)
  argv_s = split_words(GORO_TEST_PROGRAM_LAUNCHER);
#endif
  argv_s.push_back(path);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  // envp: ours, minus every name `env` mentions, plus its assignments.
  auto name_of = [](const std::string& e) { return e.substr(0, e.find('=')); };
  std::vector<std::string> env_s;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    bool overridden = false;
    for (auto& o : env) overridden = overridden || name_of(o) == name_of(entry);
    if (!overridden) env_s.push_back(entry);
  }
  for (auto& o : env) {
    if (o.find('=') != std::string::npos) env_s.push_back(o);
  }
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::system_error(e, std::generic_category(), "pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int spawn_err = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawn_err != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw std::system_error(spawn_err, std::generic_category(), "posix_spawn " + argv_s[0]);
  }

  program_result result;
  const auto deadline = std::chrono::steady_clock::now() + time_limit;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left.count() > 1000 ? 1000 : left.count()));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

/// Whether the build's GORO_TEST_CONFIG_TAGS (a comma-separated list such as
/// "asan,ubsan" or "qemu,aarch64") names `tag`.
inline bool config_has_tag(const std::string& tag) {
#if defined(GORO_TEST_CONFIG_TAGS)
  std::istringstream in(GORO_TEST_CONFIG_TAGS);
  for (std::string t; std::getline(in, t, ',');) {
    if (t == tag) return true;
  }
#endif
  (void)tag;
  return false;
}

/// Whether this process runs under valgrind.
inline bool under_valgrind() noexcept {
#if defined(GORO_TEST_HAVE_VALGRIND_H)
  return RUNNING_ON_VALGRIND != 0;
#else
  return false;
#endif
}

/// Whether this is an AddressSanitizer or ThreadSanitizer build.
constexpr bool under_sanitizer() noexcept {
#if defined(GORO_ASAN) || defined(GORO_TSAN)
  return true;
#else
  return false;
#endif
}

/// Whether the tests run under an emulator (qemu-user).
inline bool under_emulator() { return config_has_tag("qemu"); }

/// Whether everything runs many times slower than native: a sanitizer,
/// valgrind or an emulator. Tests scale their loop counts down then.
inline bool slow_run() { return under_sanitizer() || under_valgrind() || under_emulator(); }

/// `normal`, or `slow` on a slow run (see slow_run).
template <class T>
T scaled(T normal, T slow) {
  return slow_run() ? slow : normal;
}

/// Like scaled(normal, slow), with a third value for ThreadSanitizer builds,
/// where every context alive at once costs a thread's worth of TSan state
/// (a few milliseconds each on the CI host of 2026-12-01); a goroutine that
/// starts reuses that of one finished on the same thread (sanitizer.hpp), up
/// to 32 kept per thread.
template <class T>
T scaled(T normal, T slow, T tsan) {
#if defined(GORO_TSAN)
  (void)normal;
  (void)slow;
  return tsan;
#else
  (void)tsan;
  return scaled(normal, slow);
#endif
}

}  // namespace goro_test

#endif
