// runtime.hpp: starting goroutines, and the runtime that runs them.
//
//   goro::go(f, args...);            // like `go f(args...)`
//   goro::yield();                   // like runtime.Gosched()
//   goro::sleep_for(50ms);           // like time.Sleep
//
// Goroutines are cooperative: a goroutine keeps its worker thread until it
// blocks on a goro primitive, sleeps, yields or returns, or, once it has run
// for 10 ms, until its next preemption point (any channel operation, select,
// go, or goro::preempt_point()). See docs/runtime.md.
// sleep_for(ctx, d) and sleep_until(ctx, t), which a goro::context can end
// early, are in context.hpp.
#ifndef GORO_RUNTIME_HPP
#define GORO_RUNTIME_HPP

#include "config.hpp"
#include "detail/monitor.hpp"
#include "detail/scheduler.hpp"
#include "detail/wait/wait.hpp"
#include "runtime_options.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {

/// Binds f and its arguments, copied or moved like std::thread does, into
/// one callable taking no arguments.
template <class F, class... Args>
auto bind_call(F&& f, Args&&... args) {
  return [fn = std::decay_t<F>(std::forward<F>(f)),
          tup = std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)]() mutable {
    std::apply([&](auto&... a) { std::invoke(std::move(fn), std::move(a)...); }, tup);
  };
}

/// The scheduler `go` uses from the calling thread: the current goroutine's,
/// else the default runtime's.
scheduler& scheduler_for_go();

/// Where `go` was called: filled in by a default argument at the call site,
/// for goroutine dumps (`created by main.cpp:42`).
struct call_site {
  const char* file;
  unsigned line;
};

}  // namespace detail

/// A set of worker threads and the goroutines they run.
///
/// Most programs never name one: goro::go uses a default runtime started on
/// first use and never destroyed (so `main` returning ends the program and
/// abandons goroutines still running, as in Go). An explicit runtime gives
/// control over workers and stacks, and structured concurrency: its
/// destructor waits for every goroutine started on it.
class runtime {
 public:
  /// Starts the worker threads.
  explicit runtime(runtime_options options = {}) : sched_(std::move(options)) {
    sched_.owner = this;
  }

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Waits like wait(), then stops the workers. Must not run on one of this
  /// runtime's goroutines.
  ~runtime() { wait(); }

  /// Starts f(args...) as a goroutine of this runtime. f and args are copied
  /// or moved into it. Throws std::bad_alloc or std::system_error when no
  /// stack can be had; the runtime keeps working. (Without exceptions: a
  /// fatal error with the exception's message.)
  template <class F>
  void go(F&& f, detail::call_site where = {__builtin_FILE(), __builtin_LINE()}) {
    sched_.spawn(detail::bind_call(std::forward<F>(f)), where.file, where.line);
  }
  /// go(f, args...) with arguments; goroutine dumps do not show where it
  /// was called (a default argument cannot follow a parameter pack).
  template <class F, class A0, class... Args>
  void go(F&& f, A0&& a0, Args&&... args) {
    sched_.spawn(
        detail::bind_call(std::forward<F>(f), std::forward<A0>(a0), std::forward<Args>(args)...));
  }

  /// Writes every goroutine of this runtime to `out` in Go's traceback
  /// format (`goroutine 7 [chan receive]:`, see docs/debugging.md). The
  /// goroutines keep running.
  void dump_goroutines(std::ostream& out) { sched_.dump_goroutines(out); }

  /// Blocks (parks, from a goroutine of another runtime) until every
  /// goroutine started on this runtime has finished, including those started
  /// while waiting. Calling it from one of its own goroutines is a fatal error.
  void wait() { sched_.wait_all(); }

  /// Goroutines started on this runtime and not yet finished.
  std::size_t num_goroutines() const noexcept { return sched_.live(); }

  /// Its worker threads.
  std::size_t workers() const noexcept { return sched_.worker_count(); }

  /// Its settings, with defaults filled in.
  const runtime_options& options() const noexcept { return sched_.options(); }

  /// The runtime goro::go uses outside any goroutine, started on first use.
  static runtime& default_runtime() {
    // Deliberately leaked: destroying it at exit would wait for goroutines
    // that Go semantics abandon.
    static runtime* rt = [] {
      auto* created = new runtime();
      started_default().store(created, std::memory_order_release);
      return created;
    }();
    return *rt;
  }

  /// The default runtime if something has started it, else nullptr.
  static runtime* default_runtime_if_started() noexcept {
    return started_default().load(std::memory_order_acquire);
  }

  /// The runtime running the calling goroutine, or nullptr outside goroutines.
  static runtime* current() noexcept {
    detail::worker* w = detail::current_worker_slot();
    return w != nullptr ? static_cast<runtime*>(w->sched.owner) : nullptr;
  }

 private:
  friend detail::scheduler& detail::scheduler_for_go();

  static std::atomic<runtime*>& started_default() noexcept {
    static std::atomic<runtime*> instance{nullptr};
    return instance;
  }

  detail::scheduler sched_;
};

inline detail::scheduler& detail::scheduler_for_go() {
  if (worker* w = current_worker_slot()) return w->sched;
  static scheduler& fallback = runtime::default_runtime().sched_;
  return fallback;
}

/// Starts f(args...) as a goroutine, like Go's `go f(args...)`: on the
/// calling goroutine's runtime, or on the default runtime from a plain
/// thread. Returns at once. f and args are copied or moved into the
/// goroutine, like std::thread; capturing by reference is the caller's
/// responsibility, as in Go. An exception escaping f ends the program with a
/// message (see runtime_options::on_unhandled_exception).
template <class F>
void go(F&& f, detail::call_site where = {__builtin_FILE(), __builtin_LINE()}) {
  detail::scheduler_for_go().spawn(detail::bind_call(std::forward<F>(f)), where.file, where.line);
}

/// go(f, args...) with arguments (see go(f)); goroutine dumps do not show
/// where it was called (a default argument cannot follow a parameter pack).
template <class F, class A0, class... Args>
void go(F&& f, A0&& a0, Args&&... args) {
  detail::scheduler_for_go().spawn(
      detail::bind_call(std::forward<F>(f), std::forward<A0>(a0), std::forward<Args>(args)...));
}

/// A preemption point, for long computations: yields if the goroutine has
/// used up its time slice (10 ms, see docs/runtime.md), else costs one
/// relaxed load. Every channel operation, select and go is one already.
/// Does nothing on a plain thread.
inline void preempt_point() noexcept { detail::preempt_check(); }

/// Writes every goroutine of the calling goroutine's runtime (else of the
/// default runtime, if started) to `out`, in Go's traceback format. The
/// goroutines keep running.
inline void dump_goroutines(std::ostream& out) {
  if (runtime* rt = runtime::current()) {
    rt->dump_goroutines(out);
  } else if (runtime* d = runtime::default_runtime_if_started()) {
    d->dump_goroutines(out);
  }
}

/// True when called from a goroutine (false on a plain thread such as main).
inline bool in_goroutine() noexcept { return detail::current_goroutine() != nullptr; }

/// Live goroutines of the calling goroutine's runtime, or of the default
/// runtime from a plain thread (0 if it was never started).
inline std::size_t num_goroutines() noexcept {
  if (runtime* rt = runtime::current()) return rt->num_goroutines();
  if (runtime* rt = runtime::default_runtime_if_started()) return rt->num_goroutines();
  return 0;
}

/// The calling goroutine's id (1, 2, ... in order of creation), or 0 outside goroutines.
inline std::uint64_t goroutine_id() noexcept {
  detail::goroutine* g = detail::current_goroutine();
  return g != nullptr ? g->ctx.id() : 0;
}

/// Lets other runnable goroutines run, like runtime.Gosched(); the caller
/// goes to the back of its worker's queue. On a plain thread, yields the thread.
inline void yield() {
  if (detail::current_goroutine() != nullptr) {
    detail::switch_out(detail::g_request::yield);
  } else {
    std::this_thread::yield();
  }
}

/// The clock goro's deadlines use.
using clock = std::chrono::steady_clock;

/// Parks the calling goroutine until `deadline` (its worker runs others
/// meanwhile); on a plain thread, sleeps the thread.
template <class Clock, class Duration>
void sleep_until(const std::chrono::time_point<Clock, Duration>& deadline) {
  detail::wait_until(detail::to_steady(deadline));
}

/// sleep_until(now + d); a duration too large to add saturates. A zero or
/// negative duration still parks and resumes (like a yield).
template <class Rep, class Period>
void sleep_for(const std::chrono::duration<Rep, Period>& d) {
  sleep_until(detail::deadline_after(d));
}

}  // namespace goro

#endif
