// runtime_options.hpp: how a goro::runtime is set up.
#ifndef GORO_RUNTIME_OPTIONS_HPP
#define GORO_RUNTIME_OPTIONS_HPP

#include "config.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>

namespace goro {

/// Settings of a runtime. Every field has a default; in C++20 write
/// `goro::runtime rt({.workers = 4, .stack_size = 256 * 1024});`.
struct runtime_options {
  /// Worker threads (Go's GOMAXPROCS). 0: the GORO_WORKERS environment
  /// variable if set, else one per hardware thread. At most 4096: more makes
  /// the runtime constructor throw std::invalid_argument.
  std::size_t workers = 0;

  /// Usable bytes of each goroutine's stack. Stacks do not grow: this is the
  /// most a goroutine may use, but only the pages it touches cost memory.
  /// Rounded up to whole pages and to at least 16 KiB. At most 1 TiB: more
  /// makes the runtime constructor throw std::invalid_argument.
  std::size_t stack_size = 256 * 1024;

  /// Bytes of guard below each goroutine's stack: an access there (a frame
  /// that overflowed the stack) ends the program with a stack-overflow
  /// report instead of writing over another goroutine's stack. Rounded up to
  /// whole pages and to at least 16 KiB; at most 1 TiB (more: the runtime
  /// constructor throws std::invalid_argument). A guard costs address space,
  /// not memory, but it spaces the stacks apart: with many goroutines
  /// handing off to each other, stacks closer together (a narrower guard and
  /// a smaller stack_size) make their top pages cheaper to reach
  /// (docs/api.md). No single frame may be as large as the guard unless the
  /// program is built with -fstack-clash-protection.
  std::size_t stack_guard = 256 * 1024;

  /// Called (on the goroutine, as its last act) with an exception that escaped
  /// a goroutine's function, and the goroutine's id. Empty (the default): the
  /// program ends with a message naming the goroutine and the exception, as
  /// Go does for an unrecovered panic. Never called in a build without
  /// exceptions (see GORO_EXCEPTIONS in config.hpp): goro catches nothing
  /// there, and its own errors are fatal errors where they happen.
  std::function<void(std::uint64_t goroutine_id, std::exception_ptr)> on_unhandled_exception;

  /// Whether the runtime's monitor reports a deadlock of the process: every
  /// goroutine parked on a goro object, no timer, fd wait or
  /// goro::blocking call pending, and every other thread blocked in goro
  /// (see docs/debugging.md). A deadlock is of the whole process, so one
  /// runtime with this off silences the detection for all.
  bool detect_deadlock = true;

  /// Called (on a monitor thread) instead of printing
  /// `goro: fatal error: all goroutines are asleep - deadlock!` with a
  /// goroutine dump and aborting. Called once per deadlock: again only
  /// after something has run in between. Empty (the default): print and abort.
  std::function<void()> on_deadlock;

  /// Print every N milliseconds a line with the state of the scheduler
  /// (workers, idle, spinning, queue lengths, goroutines, timers) to
  /// stderr, like Go's GODEBUG=schedtrace=N. 0: the GORO_SCHEDTRACE
  /// environment variable if set, else never.
  unsigned schedtrace_ms = 0;

  /// Dump every goroutine to stderr when the process gets SIGQUIT, and keep
  /// running. Also turned on by the environment variable GORO_SIGQUIT_DUMP=1.
  /// Installs a SIGQUIT handler when the first such runtime starts.
  bool sigquit_dump = false;
  /// Most spare worker threads running at once. When every worker has been
  /// stuck for 20 ms (a goroutine in a blocking call outside
  /// goro::blocking, or a long computation with no preemption point) while
  /// goroutines wait or timers are due, the monitor starts a spare thread
  /// that runs them, and retires it once a worker switches again or nothing
  /// is left to run (see docs/runtime.md). 0: never start one.
  std::size_t spare_workers = 4;
};

}  // namespace goro

#endif
