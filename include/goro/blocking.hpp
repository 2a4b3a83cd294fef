// blocking.hpp: running a call that blocks its thread without blocking a worker.
//
//   std::string text = goro::blocking(read_whole_file, path);   // parks; a helper thread reads
//
// A goroutine must never block its worker thread (docs/runtime.md). Some calls
// do anyway: file I/O, getaddrinfo, a C library's synchronous API. Go hands
// such a thread's scheduling context to another thread for the duration of a
// system call; goro cannot interrupt a worker, so it moves the call instead:
// blocking(f, args...) runs f on a helper thread and parks the goroutine,
// whose worker runs other goroutines meanwhile.
//
// The helper pool (one per process, serving every runtime):
// * Helpers start on demand, when a call finds none idle, up to
//   blocking_options::max_threads; past that, calls queue in FIFO order and
//   their goroutines stay parked. A helper idle for idle_timeout exits.
// * Invariants, under the pool's lock: `threads_` counts helpers alive or
//   being started, and a helper is started only while it is below
//   max_threads. A helper lists itself idle, or exits for being idle, only
//   with the queue empty. A call being queued chooses an idle helper, or
//   starts one, or finds every counted helper unlisted (busy, chosen, or
//   starting); each of those comes back to the queue before it idles. So no
//   queued call is forgotten, unless a start fails and leaves no helper at
//   all: then every call in the queue fails with that start's error rather
//   than waiting forever.
// * Choosing: a caller that finds an idle helper unlists it and, after the
//   lock is released, unparks it. A chosen helper owes that wake-up a token:
//   it takes the token (parker::park) before it may ever exit, so an unpark
//   never lands on a helper that has gone. (set_options wakes idle helpers
//   the same way, but unparks them under the lock.)
// * The call lives on the calling goroutine's stack (its function, its
//   arguments, its result slot, its waiter). It is queued under the pool's
//   lock and the goroutine parks with that lock's release as its unlock step,
//   so no helper sees the call before the goroutine is fully parked. The
//   helper that runs it stores the result, then wakes the goroutine, and
//   touches nothing of the call after that: the goroutine may resume on
//   another worker and return at once, popping the call.
// * blocking(ctx, f, args...) differs in one way: its caller may stop
//   waiting. The call is then shared (a shared_blocking_call on the heap,
//   owning f and its arguments), kept alive by the caller and, while queued
//   or running, by the pool (its `keep`). The caller waits on its waiter and
//   on a done_watch on ctx's done channel, sharing one claim word; the
//   helper that ran the call claims the waiter and wakes it only while the
//   caller is `attached` (under the call's own lock). A caller ended by its
//   context takes the call out of the queue if no helper has taken it (it
//   never runs), or else detaches, after which the helper touches only the
//   shared call: f runs to its end and its result is dropped with the call.
//   Lock order: the pool's lock, then the done channel's (done_watch.hpp).
// * At exit the pool is never destroyed (like the default runtime) and its
//   threads are detached: a program may end while helpers idle or run.
//
// Rejected: a thread per call (unbounded, as Go's is up to its 10,000-thread
// crash limit); helpers per runtime (a runtime's destructor would have to
// wait for calls it cannot interrupt); Go's hand-off itself, letting the
// worker's thread make the call while a new thread takes over its queues
// (the scheduler's workers are fixed threads: it would have to learn to
// swap them, for a saving of two thread hand-offs per call).
#ifndef GORO_BLOCKING_HPP
#define GORO_BLOCKING_HPP

#include "config.hpp"
#include "context.hpp"
#include "detail/chan_core.hpp"
#include "detail/done_watch.hpp"
#include "detail/parker.hpp"
#include "detail/scheduler.hpp"
#include "detail/spin_lock.hpp"
#include "detail/wait/wait.hpp"
#include "detail/wait/waiter.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

namespace goro {

/// Settings of the helper threads behind goro::blocking, one set for the
/// whole process (see set_blocking_options).
struct blocking_options {
  /// Most helper threads alive at once; calls beyond them queue (FIFO), their
  /// goroutines parked. At least 1. Default 64: the calls are meant to wait,
  /// not compute, so the bound is not about cores but about what they wait
  /// on (a disk queue or a resolver serves far fewer in parallel) and about
  /// threads (each reserves a stack); 64 is past what those serve and still
  /// cheap. Go starts a thread per blocked system call up to a 10,000-thread
  /// crash; tokio's blocking pool stops at 512.
  std::size_t max_threads = 64;

  /// How long a helper thread waits for another call before it exits. Zero:
  /// helpers exit as soon as the queue is empty. Default 10 s, as tokio's.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(10);
};

namespace detail {

struct blocking_job;
void wake_blocking_caller(blocking_job& job) noexcept;

/// A blocking call on its way through the pool. Lives on the calling
/// goroutine's stack, or on the heap for blocking(ctx, ...); see the file
/// comment for who touches it when.
struct blocking_job {
  /// Runs the call and stores its result or exception in the caller's slot.
  void (*run)(blocking_job&) noexcept = nullptr;
  /// Once run (or failed by the pool): lets the caller know. The pool's last
  /// touch of the job.
  void (*finish)(blocking_job&) noexcept = &wake_blocking_caller;
  waiter w;                      ///< the parked caller
  std::exception_ptr error;      ///< the exception f threw, or the pool's
  blocking_job* next = nullptr;  ///< queue link; guarded by the pool's lock
};

/// The finish step of a call whose caller always waits: wake it.
inline void wake_blocking_caller(blocking_job& job) noexcept { wake(job.w); }

/// Runs a job's fn into its result slot, catching what it throws.
template <class Job>
void run_blocking_job(blocking_job& job) noexcept {
  auto& self = static_cast<Job&>(job);
#if defined(GORO_EXCEPTIONS)
  try {
    self.result.fill(self.fn);
  } catch (...) {
    self.error = std::current_exception();
  }
#else
  self.result.fill(self.fn);
#endif
}

/// Where a call's result waits for its caller: a value, a reference, or nothing.
template <class R>
struct blocking_result {
  static_assert(std::is_move_constructible_v<R>,
                "goro::blocking: the result type must be movable (it is returned to the caller)");
  std::optional<R> value;
  template <class Fn>
  void fill(Fn& fn) {
    value.emplace(fn());
  }
  R take() { return std::move(*value); }
};

template <class R>
struct blocking_result<R&> {
  R* ptr = nullptr;
  template <class Fn>
  void fill(Fn& fn) {
    ptr = std::addressof(fn());
  }
  R& take() noexcept { return *ptr; }
};

template <class R>
struct blocking_result<R&&> {
  R* ptr = nullptr;
  template <class Fn>
  void fill(Fn& fn) {
    R&& r = fn();
    ptr = std::addressof(r);
  }
  R&& take() noexcept { return static_cast<R&&>(*ptr); }
};

template <>
struct blocking_result<void> {
  template <class Fn>
  void fill(Fn& fn) {
    fn();
  }
  void take() noexcept {}
};

/// A blocking_job for a callable `fn` (taking no arguments) returning R.
template <class Fn, class R>
struct blocking_call : blocking_job {
  explicit blocking_call(Fn& f) noexcept : fn(f) { run = &run_blocking_job<blocking_call>; }
  Fn& fn;
  blocking_result<R> result;

  /// The caller's side, once woken: f's result, or its exception rethrown.
  R take() {
#if defined(GORO_EXCEPTIONS)
    if (error) std::rethrow_exception(error);
#endif
    return result.take();
  }
};

/// A blocking_job whose caller may stop waiting (blocking with a context):
/// owns fn, and is owned by the caller and, while queued or running, by
/// `keep`. See the file comment.
///
/// Invariant: while `attached` (guarded by `lock`), the caller is inside
/// blocking() and w's claim word (on its stack) may be used; the caller
/// clears it before it leaves, unless the finish step claimed and woke it.
template <class Fn, class R>
struct shared_blocking_call : blocking_job {
  explicit shared_blocking_call(Fn&& f) : fn(std::move(f)) {
    run = &run_blocking_job<shared_blocking_call>;
    finish = &finish_call;
  }
  Fn fn;
  blocking_result<R> result;
  spin_lock lock;
  bool attached = true;                        ///< guarded by lock
  std::shared_ptr<shared_blocking_call> keep;  ///< the pool's reference; see above

  // Wakes the caller if it still waits and its context has not won; then
  // lets go of the pool's reference (possibly the last: the call is freed,
  // with f's result if nobody took it).
  static void finish_call(blocking_job& job) noexcept {
    auto& self = static_cast<shared_blocking_call&>(job);
    const std::shared_ptr<shared_blocking_call> hold = std::move(self.keep);
    bool claimed = false;
    {
      std::lock_guard<spin_lock> guard(self.lock);
      claimed = self.attached && self.w.try_claim();
    }
    // Claimed: the caller waits for exactly this wake-up, so it is still there.
    if (claimed) wake(self.w);
  }

  /// The caller's side, once woken by finish_call: f's result, or its
  /// exception rethrown. The exception is moved out first, so that the call
  /// (which the helper may free last) no longer refers to it: an exception's
  /// count lives inside the C++ runtime, where ThreadSanitizer cannot see
  /// the hand-off.
  R take() {
#if defined(GORO_EXCEPTIONS)
    if (error) {
      std::exception_ptr e = std::move(error);
      error = nullptr;
      std::rethrow_exception(e);
    }
#endif
    return result.take();
  }

  /// The caller's side when its context won: from now on the helper leaves
  /// the caller alone.
  void detach() noexcept {
    std::lock_guard<spin_lock> guard(lock);
    attached = false;
  }
};

/// The process-wide pool of helper threads. See the file comment.
class blocking_pool {
 public:
  /// Starts one helper thread running `entry(pool)`, detached; throws (like
  /// std::thread) if it cannot. Replaceable for tests (set_thread_starter).
  using thread_starter = void (*)(void (*entry)(blocking_pool*), blocking_pool* pool);

  /// The pool, created on first use and never destroyed.
  static blocking_pool& instance() {
    static blocking_pool* pool = new blocking_pool();  // leaked: helpers may outlive main
    return *pool;
  }

  /// A call being waited for will end by itself: while one is, the deadlock
  /// check stays silent (the monitor reads process_census()).
  struct in_flight {
    in_flight() noexcept {
      process_census().blocking_calls.fetch_add(1, std::memory_order_relaxed);
    }
    ~in_flight() { process_census().blocking_calls.fetch_sub(1, std::memory_order_relaxed); }
    in_flight(const in_flight&) = delete;
    in_flight& operator=(const in_flight&) = delete;
  };

  /// Queues `job` and parks the calling goroutine until a helper has run it
  /// (or the pool failed it: job.error). Must be called from a goroutine.
  void run(blocking_job& job) {
    job.w.g = current_goroutine();
    GORO_ASSERT(job.w.g != nullptr);
    in_flight counted;
    after_park_step step{this, nullptr, false, nullptr};
    lock_.lock();
    enqueue_locked(job, step);
    block(job.w, &after_park, &step);
    // A helper has run the call (or the pool failed it) and woken us.
  }

  /// Queues `job` and waits, as a goroutine or a thread, until a helper has
  /// run it (true) or the channel `done` closes first (false). `party` is
  /// the caller's, and job.w is its waiter as case 0. On false, `dequeued`
  /// says whether the job was taken out of the queue before any helper
  /// took it (or was never queued): then it never runs.
  bool run_or_done(blocking_job& job, waiting_party& party, chan_core* done, bool& dequeued) {
    dequeued = false;
    done_watch watch(done);
    in_flight counted;
    after_park_step step{this, nullptr, false, nullptr};
    lock_.lock();
    if (!watch.arm(party, 1)) {
      lock_.unlock();
      dequeued = true;
      return false;
    }
    enqueue_locked(job, step);
    step.also = &watch.lock();
    block(job.w, &after_park, &step);
    const std::uint32_t outcome = party.outcome();
    watch.disarm(outcome);
    if (!watch.fired(outcome)) return true;
    std::lock_guard<spin_lock> guard(lock_);
    dequeued = remove(&job);
    return false;
  }

  /// The settings in force.
  blocking_options options() {
    std::lock_guard<spin_lock> guard(lock_);
    return options_;
  }

  /// Replaces the settings; idle helpers wake to apply them (those past a
  /// lowered bound exit, busy ones when their call ends). Throws
  /// std::invalid_argument for max_threads 0 or a negative idle_timeout.
  void set_options(const blocking_options& o) {
    if (o.max_threads == 0) {
      throw_error(
          std::invalid_argument("goro::set_blocking_options: max_threads must be at least 1"));
    }
    if (o.idle_timeout < std::chrono::steady_clock::duration::zero()) {
      throw_error(std::invalid_argument("goro::set_blocking_options: negative idle_timeout"));
    }
    std::lock_guard<spin_lock> guard(lock_);
    options_ = o;
    // Unparked under the lock (a rare call): a woken helper needs the lock
    // before it can exit, so none can be gone before its unpark.
    while (helper* h = idle_) {
      unlist(h);
      h->wakeup.unpark();
    }
  }

  /// Helper threads alive or being started (for tests and diagnostics).
  std::size_t threads() {
    std::lock_guard<spin_lock> guard(lock_);
    return threads_;
  }

  /// Helper threads idle, waiting for a call.
  std::size_t idle_threads() {
    std::lock_guard<spin_lock> guard(lock_);
    return idle_count_;
  }

  /// For tests: replaces how helper threads are started (nullptr: the
  /// default, a detached std::thread), e.g. by one that throws.
  void set_thread_starter(thread_starter starter) noexcept {
    starter_.store(starter != nullptr ? starter : &start_detached, std::memory_order_release);
  }

 private:
  /// An idle helper thread's entry in the idle list; lives on its own stack.
  struct helper {
    parker wakeup;           ///< where it sleeps while idle
    helper* next = nullptr;  ///< idle list link; guarded by lock_
    bool listed = false;     ///< on the idle list; guarded by lock_
  };

  /// What the parked caller's worker does once the caller is off its stack.
  struct after_park_step {
    blocking_pool* pool;
    helper* chosen;   ///< an idle helper to wake, or nullptr
    bool start;       ///< a helper to start (already counted in threads_)
    spin_lock* also;  ///< a done channel's lock to release first, or nullptr
  };

  /// Queues `job` and picks who runs it: an idle helper, or a new one if the
  /// bound allows (counted now, so that no other caller starts one past the
  /// bound); else it waits for a busy one. Holds lock_; `step` carries the
  /// choice to after_park, which acts on it once the caller is parked.
  void enqueue_locked(blocking_job& job, after_park_step& step) noexcept {
    push(&job);
    if (idle_ != nullptr) {
      step.chosen = idle_;
      unlist(idle_);
    } else if (threads_ < options_.max_threads) {
      ++threads_;
      step.start = true;
    }
  }

  blocking_pool() = default;

  // Runs on the parked caller's worker (g0), lock_ held. Once lock_ is
  // released a helper may run the call and resume the caller, popping `step`
  // off its stack: copy it first.
  static void after_park(void* arg) noexcept {
    const after_park_step step = *static_cast<after_park_step*>(arg);
    if (step.also != nullptr) step.also->unlock();
    step.pool->lock_.unlock();
    if (step.chosen != nullptr) step.chosen->wakeup.unpark();
    if (step.start) step.pool->start_helper();
  }

  static void start_detached(void (*entry)(blocking_pool*), blocking_pool* pool) {
    std::thread(entry, pool).detach();
  }

  /// Starts one helper (already counted in threads_). Lock not held.
  void start_helper() noexcept {
    const thread_starter starter = starter_.load(std::memory_order_acquire);
#if defined(GORO_EXCEPTIONS)
    std::error_code failure;
    try {
      starter(&helper_main, this);
    } catch (const std::system_error& e) {
      failure = e.code();
    } catch (...) {  // std::bad_alloc, in practice
      failure = std::make_error_code(std::errc::not_enough_memory);
    }
    if (failure) start_failed(failure);
#else
    starter(&helper_main, this);  // std::thread aborts if it cannot start one
#endif
  }

  /// A helper could not be started (for `why`). If no helper is left, nobody
  /// would ever serve the queue: every call in it fails with a
  /// std::system_error. Each gets an exception object of its own, made
  /// before it is woken, and nothing here refers to it afterwards (an
  /// exception shared between threads is freed by whichever drops it last,
  /// a hand-off ThreadSanitizer cannot see inside the C++ runtime library).
  /// Lock not held.
  void start_failed(std::error_code why) noexcept {
    blocking_job* orphans = nullptr;
    {
      std::lock_guard<spin_lock> guard(lock_);
      --threads_;
      if (threads_ == 0) {
        orphans = head_;
        head_ = tail_ = nullptr;
      }
    }
    while (blocking_job* job = orphans) {
      orphans = job->next;  // read before the wake: the caller may then pop `job`
      job->error = std::make_exception_ptr(
          std::system_error(why, "goro::blocking: cannot start a helper thread"));
      job->finish(*job);
    }
  }

  static void helper_main(blocking_pool* pool) noexcept { pool->serve(); }

  /// A helper thread's life: run queued calls; idle; exit when idle too long
  /// or past the bound.
  void serve() noexcept {
    // Counted as goro's own thread while it serves, so that the deadlock
    // check does not take it for a user thread that may still send.
    struct goro_thread {
      goro_thread() noexcept {
        process_census().goro_threads.fetch_add(1, std::memory_order_relaxed);
      }
      ~goro_thread() { process_census().goro_threads.fetch_sub(1, std::memory_order_relaxed); }
    } counted;
    helper self;
    lock_.lock();
    for (;;) {
      if (threads_ > options_.max_threads) break;  // the bound was lowered
      if (blocking_job* job = pop()) {
        lock_.unlock();
        job->run(*job);
        // The caller may resume as soon as it is readied, and return: finish
        // is the last touch of *job.
        job->finish(*job);
        lock_.lock();
        continue;
      }
      self.listed = true;
      self.next = idle_;
      idle_ = &self;
      ++idle_count_;
      const steady_clock::time_point until = deadline_after(options_.idle_timeout);
      lock_.unlock();
      const bool woken = self.wakeup.park_until(until);
      lock_.lock();
      if (self.listed) {  // nobody chose us
        unlist(&self);
        // Idle for idle_timeout. (A call queued meanwhile chose another
        // helper; it may still be in the queue, so look before leaving.)
        if (!woken && head_ == nullptr) break;
      } else if (!woken) {
        // Chosen just as we timed out: take the token the chooser owes us,
        // so that its unpark never lands on a thread that has gone.
        lock_.unlock();
        self.wakeup.park();
        lock_.lock();
      }
    }
    --threads_;
    lock_.unlock();
  }

  // ---- the queue and the idle list; lock_ held for all of these.
  void push(blocking_job* job) noexcept {
    job->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = job;
    } else {
      head_ = job;
    }
    tail_ = job;
  }
  blocking_job* pop() noexcept {
    blocking_job* job = head_;
    if (job != nullptr) {
      head_ = job->next;
      if (head_ == nullptr) tail_ = nullptr;
    }
    return job;
  }
  /// Takes job out of the queue; false if it is not there (a helper took it).
  bool remove(blocking_job* job) noexcept {
    blocking_job* prev = nullptr;
    for (blocking_job* j = head_; j != nullptr; prev = j, j = j->next) {
      if (j != job) continue;
      (prev != nullptr ? prev->next : head_) = j->next;
      if (tail_ == j) tail_ = prev;
      return true;
    }
    return false;
  }
  void unlist(helper* h) noexcept {
    helper** p = &idle_;
    while (*p != h) p = &(*p)->next;
    *p = h->next;
    h->listed = false;
    --idle_count_;
  }

  spin_lock lock_;                ///< guards everything below but starter_
  blocking_job* head_ = nullptr;  ///< calls waiting for a helper, oldest first
  blocking_job* tail_ = nullptr;
  helper* idle_ = nullptr;  ///< idle helpers, most recently idle first
  std::size_t idle_count_ = 0;
  std::size_t threads_ = 0;  ///< helpers alive or being started
  blocking_options options_;
  std::atomic<thread_starter> starter_{&start_detached};
};

/// Binds f and its arguments, copied or moved like std::thread does, into one
/// callable taking no arguments and returning what f returns.
template <class R, class F, class... Args>
auto bind_result_call(F&& f, Args&&... args) {
  return [fn = std::decay_t<F>(std::forward<F>(f)),
          tup = std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)]() mutable -> R {
    return std::apply([&](auto&... a) -> R { return std::invoke(std::move(fn), std::move(a)...); },
                      tup);
  };
}

}  // namespace detail

/// The type goro::blocking(f, args...) returns: what f returns when called
/// with its arguments' decayed copies as rvalues.
template <class F, class... Args>
using blocking_result_t = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;

/// Runs f(args...) on a helper thread and returns its result, rethrowing any
/// exception f throws; for calls that block their thread (file I/O, name
/// lookups, a C library's synchronous API), which must not run on a worker.
///
/// From a goroutine, the goroutine parks while f runs (its worker runs other
/// goroutines); when all helpers are busy the call waits its turn (FIFO).
/// From a plain thread, f simply runs on that thread.
///
/// f and args are copied or moved like std::thread's, kept on the caller's
/// stack, and passed to f as rvalues; pass std::ref(x) to hand f a reference
/// (safe: the caller waits). f may return any movable type, void, or a
/// reference (returned as is: it must not refer into f's own copies, which
/// are destroyed before blocking returns). Throws what f throws; or
/// std::system_error when no helper thread exists and none can be started.
template <class F, class... Args>
blocking_result_t<F, Args...> blocking(F&& f, Args&&... args) {
  using R = blocking_result_t<F, Args...>;
  auto call = detail::bind_result_call<R>(std::forward<F>(f), std::forward<Args>(args)...);
  if (detail::current_goroutine() == nullptr) return call();
  detail::blocking_call<decltype(call), R> job(call);
  detail::blocking_pool::instance().run(job);
  return job.take();
}

/// blocking(f, args...), unless ctx is done first (or already is: then f
/// does not run): then throws goro::context_error. f cannot be interrupted:
/// if a helper has started it, it runs to its end on that helper and its
/// result (or exception) is discarded; if it is still queued, it is taken
/// out and never runs. So f and args must not refer to the caller's frame
/// (no std::ref to a local): they may outlive the call. They are owned by
/// the call, which is shared between the caller and the helper.
///
/// From a plain thread too, f runs on a helper (so that the thread can stop
/// waiting), unless ctx can never be done (background()): then f runs on
/// the calling thread, as blocking(f, args...) does.
template <class F, class... Args>
blocking_result_t<F, Args...> blocking(const context& ctx, F&& f, Args&&... args) {
  using R = blocking_result_t<F, Args...>;
  detail::chan_core* done = detail::done_core_or_throw(ctx);
  auto call = detail::bind_result_call<R>(std::forward<F>(f), std::forward<Args>(args)...);
  if (done == nullptr) {
    if (detail::current_goroutine() == nullptr) return call();
    detail::blocking_call<decltype(call), R> job(call);
    detail::blocking_pool::instance().run(job);
    return job.take();
  }
  using job_type = detail::shared_blocking_call<decltype(call), R>;
  auto job = std::make_shared<job_type>(std::move(call));
  job->keep = job;
  detail::waiting_party party;
  party.init(job->w, 0);
  bool dequeued = false;
  if (detail::blocking_pool::instance().run_or_done(*job, party, done, dequeued)) {
    return job->take();
  }
  if (dequeued) {
    job->keep.reset();  // never ran, never will: no helper refers to it
  } else {
    job->detach();  // running (or failed by the pool): its finish step skips us
  }
  detail::throw_context_error(ctx);
}

/// Replaces the settings of goro::blocking's helper threads, for the whole
/// process; calls already queued or running are not disturbed. Throws
/// std::invalid_argument for max_threads 0 or a negative idle_timeout.
inline void set_blocking_options(const blocking_options& options) {
  detail::blocking_pool::instance().set_options(options);
}

/// The settings of goro::blocking's helper threads now in force.
inline blocking_options get_blocking_options() {
  return detail::blocking_pool::instance().options();
}

}  // namespace goro

#endif
