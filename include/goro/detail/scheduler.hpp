// scheduler.hpp: goroutines multiplexed M:N onto worker threads.
//
// Design (after Go's runtime, proc.go):
//
// * Each worker is an OS thread with its own scheduling context ("g0": the
//   thread's original stack) and a local run_queue that only it pushes to and
//   other workers steal half of. A one-slot `runnext` holds the goroutine made
//   ready most recently by the running one: it runs next on the same worker,
//   so a ping-pong over an unbuffered channel costs two switches and no
//   cross-thread traffic. Thieves take `runnext` only as a last resort, after
//   giving its owner a few microseconds to get to it.
// * A global queue takes overflow from local queues and goroutines started or
//   readied outside any worker. A worker looks at it every 61st pick so that
//   nothing there starves, and whenever its local queue is empty.
// * Goroutines always switch to g0 and g0 to goroutines; a goroutine never
//   switches to another directly. That is what makes "park with an unlock
//   function" safe: a goroutine that must wait enqueues itself under some
//   lock, switches to g0, and only g0, after the goroutine's registers are
//   saved, releases the lock. Once the lock is released anyone may ready the
//   goroutine and another worker may resume it at once.
// * Spinning: a worker with nothing to run looks for work to steal for a
//   while before sleeping ("spinning"); at most half of the busy workers spin
//   at once. Whoever adds work wakes one sleeping worker, and only when nobody
//   spins ("wake_if_needed"). The lost wake-up is avoided by a Dekker-style
//   handshake: the adder publishes work then reads the spinning/idle counts;
//   the sleeper publishes itself as idle (and no longer spinning) then
//   re-reads the queues; sequentially consistent fences between the two
//   steps on both sides mean at least one of them sees the other.
// * Timers: one heap per runtime; workers fire due timers between goroutines
//   and idle workers sleep until the earliest deadline.
// * I/O: when goroutines wait on fds, one idle worker at a time blocks in the
//   runtime's netpoller (netpoller.hpp) instead of on its parker, with the
//   timeout of the next timer; a waker that picks that worker interrupts the
//   poll ("in_poll", the same Dekker handshake against the parker's token).
//   Workers with nothing local look at the poller without blocking before
//   they steal, and busy workers every 61st pick, as Go's findRunnable does.
// * Time slices: a worker counts the slices it starts (`slicetick`). A pick
//   from `runnext` right after a goroutine ran inherits that goroutine's
//   slice and does not count (Go's inheritTime), so a pair handing the worker
//   back and forth through runnext shares one slice. The runtime's monitor
//   (monitor.hpp) reads the counters; a slice older than 10 ms gets the
//   worker's `preempt` flag set, and the goroutine yields to the back of the
//   local queue at its next preemption point (preempt_check). `schedtick`
//   counts every pick; the monitor uses it to spot a stuck worker (one that
//   has not switched for 20 ms while goroutines wait in its queues) and
//   wakes an idle worker to steal them; when every worker is stuck it starts
//   a spare worker thread (spare_workers.hpp).
// * Every live goroutine is in its runtime's registry (g_registry.hpp: its
//   stack's slot, written without a locked instruction) for goroutine dumps
//   and deadlock reports.
// * Waiting is not here: parking, waking, blocking with or without a
//   deadline and the reasons for it are the wait layer (wait/), which
//   channels, select, sync, timers and fd waits all use. This file only
//   makes goroutines runnable (ready) and switches them out (switch_out);
//   the global queue and the idle list are classes of their own
//   (global_queue.hpp, idle_list.hpp).
//
// Rejected: a goroutine switching straight to the next one (saves one
// switch, but then nobody is off both stacks to release the park lock);
// one global queue for everything (simple, but every spawn and wake contends
// on one lock); timers on a dedicated thread (a context switch per firing).
#ifndef GORO_DETAIL_SCHEDULER_HPP
#define GORO_DETAIL_SCHEDULER_HPP

#include "../config.hpp"
#include "../runtime_options.hpp"
#include "context.hpp"
#include "g_registry.hpp"
#include "global_queue.hpp"
#include "goroutine.hpp"
#include "idle_list.hpp"
#include "netpoller.hpp"
#include "overflow_handler.hpp"
#include "own_thread.hpp"
#include "parker.hpp"
#include "run_queue.hpp"
#include "runnext_slot.hpp"
#include "spin_lock.hpp"
#include "stack_pool.hpp"
#include "timer_heap.hpp"
#include "wait/reason.hpp"
#include "wait/waiter.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace goro::detail {

class scheduler;
class worker;
class monitor;

/// The calling thread's worker, or nullptr. Read it through
/// current_worker_slot(). A compiler takes a thread-local's address to be
/// the same for the whole of a function, but a goroutine may resume on
/// another worker's thread after any call that can park: so read it
/// directly only in a noinline function that reads it before its first
/// switch and never after (wait_on_locked and wake do, to save the call:
/// W2 runs four such lookups per round trip).
inline thread_local worker* current_worker_tls = nullptr;

/// The worker running on the calling thread, or nullptr. Noinline: a
/// goroutine may resume on another worker after any call that can park, so
/// the address of this thread-local must never be cached across one.
GORO_TLS_ACCESSOR inline worker*& current_worker_slot() noexcept {
  GORO_TLS_BARRIER();
  return current_worker_tls;
}

/// How many workers of the process have `preempt` set: the fast path of
/// preempt_check reads only this. On a cache line of its own, which only a
/// preemption request and its withdrawal write (never a spawn or a switch).
inline std::atomic<std::int32_t>& preempt_requests() noexcept {
  struct alignas(64) counter {
    std::atomic<std::int32_t> n{0};
  };
  static counter c;
  return c.n;
}

/// A process-wide source of goroutine ids.
inline std::uint64_t next_goroutine_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

/// One worker thread with its queues. Fields without a note are touched only
/// by the worker's own thread.
class worker {
 public:
  /// `alone`: the runtime's only worker, whose runnext takes the owner's
  /// side of a membarrier handshake where it can (runnext_slot.hpp).
  worker(scheduler& s, std::size_t i, bool alone = false) noexcept
      : sched(s),
        index(i),
        runnext(alone && asymmetric_fence::expedited()),
        rng(i * 0x9E3779B97F4A7C15ull + 1) {}

  scheduler& sched;
  const std::size_t index;
  context* g0 = nullptr;        ///< the thread's own context, set once running
  thread_switch_slots slots{};  ///< this thread's switch slots, looked up once
  /// A parking goroutine's unlock function and its argument: stored by the
  /// goroutine running here just before it switches out (park), called by
  /// g0 once it is off its stack. They pass from the goroutine to this
  /// worker's g0 only, so they are the worker's (on the goroutine's record
  /// before; no measured difference).
  void (*park_unlock)(void*) = nullptr;
  void* park_unlock_arg = nullptr;
  std::atomic<goroutine*> current{nullptr};  ///< running goroutine; read by the monitor
  runnext_slot runnext;                      ///< owner puts and takes; a thief steals
  std::atomic<std::uint64_t> schedtick{0};   ///< goroutines picked; read by thieves, monitor
  std::atomic<std::uint64_t> slicetick{0};   ///< time slices started; read by the monitor
  std::atomic<bool> preempt{false};          ///< the slice is over: request_preempt, clear_preempt
  run_queue local;                           ///< owner pushes; anyone steals
  stack_pool pool;                           ///< free stacks
  parker sleeper;                            ///< where the idle thread sleeps
  std::atomic<bool> in_poll{false};          ///< idle in the netpoller instead of `sleeper`
  worker* idle_next = nullptr;               ///< idle list link; guarded by the idle_list's lock
  bool idle_listed = false;                  ///< guarded by the idle_list's lock
  bool spinning = false;
  /// The goroutine just picked came from runnext right after the one that
  /// readied it ran here, and shares its slice (see "Time slices").
  bool inherit_slice = false;
  bool slept = false;            ///< slept during this find_work: no slice to inherit
  std::uint32_t no_preempt = 0;  ///< no_preempt_scope depth (Go's m.locks)
  /// Picks until the next one that looks at the global queue and the
  /// netpoller first (every 61st, as in Go); counts down to 0.
  std::uint32_t fair_countdown = fair_period;
  static constexpr std::uint32_t fair_period = 61;
  std::uint64_t rng;
  /// Timers taken out to fire, a batch at a time (no allocation on this context).
  timer_node* due[64] = {};
  std::thread thread;

  void run();

  /// Asks the goroutine running here to yield at its next preemption point
  /// (the monitor). Sets `preempt` and counts it in preempt_requests().
  void request_preempt() noexcept;
  /// Withdraws a pending request (the owner). `preempt` is set and cleared
  /// only through these two, so that the process-wide count stays exact.
  void clear_preempt() noexcept;

  friend class spare_workers;  // a spare worker runs the same loop

  /// What push_next did, for the wake that follows it.
  enum class pushed : unsigned char {
    into_empty_runnext,  ///< runnext was empty: its put published g (push_next)
    kicked_to_local,     ///< the previous occupant went to the local queue
    overflowed,          ///< ...which overflowed into the global queue
  };
  /// Puts g in runnext, kicking the previous occupant to the local queue.
  /// Only the owner calls it, from one of its goroutines; the caller then
  /// calls scheduler::wake_after_own_push.
  pushed push_next(goroutine* g);
  /// Appends g to the local queue, or half the queue and g to the global one
  /// (returns true then).
  bool push_tail(goroutine* g);
  /// push_tail once the local queue was seen full: out of line, so that its
  /// batch array is not in the frame of every ready() (Clang reserved it
  /// there, with six saved registers, on each wake).
  bool push_tail_overflow(goroutine* g);

  /// Wakes this worker from its idle sleep, on its parker or in the
  /// netpoller. Any thread; the caller took the worker off the idle list.
  void wake_from_idle() noexcept;

 private:
  goroutine* next_goroutine();
  goroutine* find_work(bool ticked);
  goroutine* try_local_and_global(bool ticked = false);
  goroutine* steal_work();
  goroutine* steal_runnext(worker& victim);
  void stop_spinning();
  /// `wake_by`: wake then at the latest (besides the earliest timer).
  void sleep(steady_clock::time_point wake_by = steady_clock::time_point::max());
  bool poll_network(int timeout_ms);
  void execute(goroutine* g);
  void finish(goroutine* g);
  void run_due_timers();
  std::uint64_t random() noexcept {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  }
};

/// A set of workers and the goroutines they run. See the file comment.
class scheduler {
 public:
  explicit scheduler(runtime_options opts)
      : options_(resolved(std::move(opts))),
        pool_(options_.stack_size, options_.stack_guard, registry_, timers_),
        registry_(options_.workers) {
    check_shadow_stack();  // before any thread: refuse clearly, not crash at the first switch
    const std::size_t n = options_.workers;
    workers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<worker>(*this, i, /*alone=*/n == 1));
    }
    GORO_TRY {
      for (auto& w : workers_) {
        start_worker_thread(w.get(), n);
        process_census().goro_threads.fetch_add(1, std::memory_order_relaxed);
      }
      start_monitor();
    }
    GORO_CATCH_ALL {
      stop_workers();  // the ones that started; then report why the rest did not
      GORO_RETHROW;
    }
  }

  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// Stops the workers; goroutines still alive are abandoned with their stacks
  /// (callers wait for them first: runtime::~runtime does).
  ~scheduler();

  const runtime_options& options() const noexcept { return options_; }

  /// The object that owns this scheduler (a goro::runtime), for finding it
  /// from a worker; set once by the owner.
  void* owner = nullptr;
  std::size_t worker_count() const noexcept { return workers_.size(); }

  /// Goroutines started and not yet finished.
  std::size_t live() const noexcept {
    return static_cast<std::size_t>(live_.load(std::memory_order_acquire));
  }

  /// Starts a goroutine running fn() (a callable taking no arguments, moved
  /// in). Throws std::bad_alloc / std::system_error when no stack can be had;
  /// nothing is started then.
  template <class F>
  void spawn(F&& fn, const char* file = nullptr, unsigned line = 0);

  /// Makes a waiting goroutine runnable. Any thread; the caller holds no lock
  /// that the goroutine's resumption could need. `here` is the calling
  /// thread's worker (current_worker_slot(), read since the caller's last
  /// switch), or nullptr.
  void ready(goroutine* g, worker* here);
  /// The same, looking the calling thread's worker up itself. Noinline and
  /// never switching, so it may read current_worker_tls directly: no call
  /// to current_worker_slot (W2 wakes twice per round trip).
  __attribute__((noinline)) void ready(goroutine* g) { ready(g, current_worker_tls); }

  /// The runtime's timers.
  timer_heap& timers() noexcept { return timers_; }

  /// Call after arming a timer; `earliest` is what timer_heap::add returned.
  void timer_added(bool earliest) {
    if (earliest) wake_if_needed(/*for_timer=*/true);
  }

  /// The runtime's netpoller, made on first use (by the first goroutine that
  /// waits on an fd). Throws std::system_error when it cannot be opened.
  netpoller& poller() {
    if (netpoller* p = poller_.load(std::memory_order_acquire)) return *p;
    std::lock_guard<std::mutex> guard(poller_make_lock_);
    if (netpoller* p = poller_.load(std::memory_order_relaxed)) return *p;
    auto* p = new netpoller(*this);
    poller_.store(p, std::memory_order_release);
    return *p;
  }

  /// The netpoller if one was made, else nullptr.
  netpoller* poller_if_started() const noexcept { return poller_.load(std::memory_order_acquire); }

  /// Wakes an idle worker to poll: a goroutine of another runtime has just
  /// parked on an fd this runtime's poller watches.
  void poller_needed() { wake_if_needed(/*for_timer=*/true); }

  /// Blocks until no goroutine is alive (implemented in wait/wait.hpp, which
  /// can wait as a goroutine or as a thread).
  void wait_all();

  /// Writes one block per live goroutine, in Go's traceback format
  /// (implemented in monitor.hpp). The runtime keeps running.
  void dump_goroutines(std::ostream& out);

  /// Spare worker threads running now, and started since the runtime began
  /// (spare_workers.hpp; implemented in monitor.hpp).
  std::size_t spare_workers_running() const noexcept;
  std::uint64_t spare_workers_started() const noexcept;

  /// Whether the global queue holds goroutines (a relaxed snapshot).
  bool global_queue_waiting() const noexcept {
    return global_.size(std::memory_order_relaxed) != 0;
  }

 private:
  friend class worker;
  friend class monitor;
  friend class spare_workers;
  friend struct goroutine;

  // The monitor thread (monitor.hpp): started last by the constructor,
  // stopped and joined first by the destructor, while the workers it reads
  // still exist. monitor_needed() wakes it when a first goroutine starts.
  void start_monitor();
  void stop_monitor() noexcept;
  void monitor_needed() noexcept;

  /// The most workers a runtime has (runtime_options::workers, GORO_WORKERS).
  static constexpr std::size_t max_workers = 4096;

  /// Starts a worker's thread. std::thread's own error says only what the
  /// system said; this one also says what could not start (the code stays).
  static void start_worker_thread(worker* wp, [[maybe_unused]] std::size_t n) {
#if defined(GORO_EXCEPTIONS)
    try {
#endif
      GORO_FAULT_THREAD_START();
      wp->thread = std::thread([wp] { run_own_thread("worker", [wp] { wp->run(); }); });
#if defined(GORO_EXCEPTIONS)
    } catch (const std::system_error& e) {
      throw_error(std::system_error(e.code(), "goro::runtime: cannot start worker thread " +
                                                  std::to_string(wp->index + 1) + " of " +
                                                  std::to_string(n)));
    }
#endif
  }

  /// Fills in the defaults: worker count, stack size bounds. Absurd values
  /// are refused here, with a message, rather than failing later as a
  /// vector length or a stack mapping.
  static runtime_options resolved(runtime_options opts) {
    if (opts.workers > max_workers) {
      throw_error(std::invalid_argument("goro::runtime_options: workers above 4096"));
    }
    if (opts.stack_size > max_stack_bytes) {
      throw_error(std::invalid_argument("goro::runtime_options: stack_size above 1 TiB"));
    }
    if (opts.stack_guard > max_stack_bytes) {
      throw_error(std::invalid_argument("goro::runtime_options: stack_guard above 1 TiB"));
    }
    if (opts.workers == 0) opts.workers = workers_from_environment();
    if (opts.workers == 0) opts.workers = std::max(1u, std::thread::hardware_concurrency());
    opts.stack_size = std::max(opts.stack_size, min_stack_bytes);
    opts.stack_guard = std::max(opts.stack_guard, min_guard_bytes);
    return opts;
  }

  static std::size_t workers_from_environment() noexcept {
    const char* s = std::getenv("GORO_WORKERS");
    if (s == nullptr || *s == '\0') return 0;
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (*end != '\0' || v <= 0 || v > static_cast<long>(max_workers)) {
      std::fprintf(stderr, "goro: ignoring GORO_WORKERS=%s (want a number from 1 to 4096)\n", s);
      return 0;
    }
    return static_cast<std::size_t>(v);
  }

  // ---- the global run queue (global_queue.hpp).
  void global_push(goroutine* const* gs, std::size_t n) { global_.push(gs, n); }

  /// Takes up to `max` goroutines (a fair share for one worker); returns the
  /// first, puts the rest in w's local queue, which must have room for them.
  goroutine* global_take(worker& w, std::size_t max) {
    return global_.take(w.local, workers_.size(), max);
  }

  // ---- idle workers and spinning (see "Spinning" above).
  /// Wakes an idle worker if some are idle and none spins (one for a timer
  /// regardless): the adder's side of the handshake. `published_sc`: the
  /// caller published its work with a sequentially consistent
  /// read-modify-write and nothing since, which is the adder's half of the
  /// handshake already (and a full barrier on every CPU): no fence then.
  void wake_if_needed(bool for_timer = false, bool published_sc = false) {
    if (!published_sc) full_fence();
    if (idle_.size(std::memory_order_seq_cst) == 0) return;
    // A spinning worker will find new work; a new timer is seen by a spinner
    // only if it has not computed its sleep yet, so timers wake regardless.
    if (!for_timer) {
      std::size_t zero = 0;
      if (n_spinning_.load(std::memory_order_seq_cst) != 0 ||
          !n_spinning_.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
        return;
      }
    } else {
      n_spinning_.fetch_add(1, std::memory_order_seq_cst);
    }
    worker* w = idle_.pop();
    if (w == nullptr) {
      n_spinning_.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    w->wake_from_idle();  // w wakes counted as spinning
  }

  /// wake_if_needed after a worker of this runtime queued a goroutine on
  /// itself. With one worker nobody can be idle: the only one is the caller,
  /// running (a spare worker looks for work by polling, never from the idle
  /// list, and runs what it queued itself). That skips wake_if_needed's full
  /// fence on every ready and spawn of a one-worker runtime (two per W2
  /// round trip).
  ///
  /// A push into an empty runnext needs no fence: see worker::push_next.
  void wake_after_own_push(worker::pushed how) {
    if (options_.workers != 1) {
      wake_if_needed(/*for_timer=*/false, how == worker::pushed::into_empty_runnext);
    }
  }

  /// Lists w as idle. Returns false (and does not list it) if the global queue
  /// has work, checked under the same lock.
  bool list_idle(worker& w) { return idle_.push(w, global_); }

  /// Takes w off the idle list; false if a waker already did (and counted w
  /// as spinning).
  bool unlist_idle(worker& w) { return idle_.remove(w); }

  /// Whether some queue holds work (a snapshot). runnext slots count too: a
  /// goroutine started by a busy one sits there, and an idle worker that
  /// ignored it could sleep while it waits for its starter to block.
  bool work_visible() const noexcept {
    if (global_.size(std::memory_order_seq_cst) != 0) return true;
    for (auto& w : workers_) {
      if (!w->local.empty() || w->runnext.peek(std::memory_order_seq_cst) != nullptr) return true;
    }
    return timers_.earliest() <= steady_clock::now();
  }

  void stop_workers() noexcept {
    while (outside_wakers_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    stopping_.store(true, std::memory_order_seq_cst);
    for (auto& w : workers_) w->wake_from_idle();
    for (auto& w : workers_) {
      if (w->thread.joinable()) {
        w->thread.join();
        process_census().goro_threads.fetch_sub(1, std::memory_order_relaxed);
      }
    }
  }

  void goroutine_exited(stack_pool& local);
  void unhandled_exception(goroutine& g, std::exception_ptr e) noexcept;

  runtime_options options_;
  shared_stack_pool pool_;
  std::vector<std::unique_ptr<worker>> workers_;
  timer_heap timers_;

  global_queue global_;
  idle_list<worker> idle_;
  std::atomic<std::size_t> n_spinning_{0};

  std::atomic<std::int64_t> live_{0};
  spin_lock done_lock_;      ///< guards done_waiters_
  wait_queue done_waiters_;  ///< parties in wait_all()
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> outside_wakers_{0};  ///< ready() calls from outside still running

  std::atomic<netpoller*> poller_{nullptr};  ///< made once, deleted by ~scheduler
  std::mutex poller_make_lock_;

  /// Live goroutines, each in its stack's slot. Declared after pool_,
  /// which only stores a reference to it when constructed.
  g_registry registry_;

  monitor* monitor_ = nullptr;  ///< set by start_monitor, deleted by stop_monitor
};

// ---------------------------------------------------------------------------
// The calling goroutine's side.

/// The goroutine running on this thread, or nullptr (a plain thread, or g0).
inline goroutine* current_goroutine() noexcept {
  worker* w = current_worker_slot();
  return w != nullptr ? w->current.load(std::memory_order_relaxed) : nullptr;
}

/// Switches g, the goroutine running on worker w (the calling thread's, read
/// since the caller's last switch), out with a request for w. Returns when
/// g is resumed, possibly on another worker: w is stale from then on.
inline void switch_out(worker& w, goroutine* g, g_request request) noexcept {
  GORO_ASSERT(g != nullptr && g == w.current.load(std::memory_order_relaxed));
  g->request = request;
  g->ctx.switch_to(*w.g0, w.slots);
}

/// Switches the running goroutine out with a request for its worker.
/// Returns when the goroutine is resumed, possibly on another worker.
inline void switch_out(g_request request) noexcept {
  worker* w = current_worker_slot();
  switch_out(*w, w->current.load(std::memory_order_relaxed), request);
}

/// The slow half of preempt_check: the slice is over, so the running
/// goroutine goes to the back of its worker's local queue. (Go puts it on
/// the global queue; here that made a preempted ping-pong pair migrate
/// between workers, a quarter more CPU on W2 with two workers.) When the
/// global queue holds goroutines it goes there, behind them, as in Go: they
/// come from outside, from the monitor's netpoll or from a retiring spare,
/// and would otherwise wait up to 61 picks of 10 ms slices.
__attribute__((noinline, cold)) inline void preempt_now(worker& w) noexcept {
  if (w.no_preempt != 0) return;  // asked again at the next point after the scope
  w.clear_preempt();
  // On g0 (a timer's fire function sending on a channel) there is nothing
  // to preempt; the flag is cleared all the same.
  if (goroutine* g = w.current.load(std::memory_order_relaxed)) {
    switch_out(w, g, w.sched.global_queue_waiting() ? g_request::yield_global : g_request::yield);
  }
}

/// Holds off preemption on the calling goroutine's worker for its lifetime:
/// for library code that makes a channel operation while it holds a spin
/// lock that goroutines or g0 of the same worker may need (a goroutine
/// preempted there would leave them spinning). The goroutine cannot switch
/// workers inside it: it holds a spin lock and does not park.
class no_preempt_scope {
 public:
  no_preempt_scope() noexcept : w_(current_worker_slot()) {
    if (w_ != nullptr) ++w_->no_preempt;
  }
  ~no_preempt_scope() {
    if (w_ != nullptr) --w_->no_preempt;
  }
  no_preempt_scope(const no_preempt_scope&) = delete;
  no_preempt_scope& operator=(const no_preempt_scope&) = delete;

 private:
  worker* w_;
};

/// The slow half of preempt_check, once some worker of the process has a
/// request pending: is it this one?
__attribute__((noinline, cold)) inline void preempt_check_slow() noexcept {
  worker* w = current_worker_slot();
  if (w != nullptr && w->preempt.load(std::memory_order_relaxed)) preempt_now(*w);
}

/// A preemption point: yields if the monitor found the running goroutine
/// past its time slice. The caller holds no lock. When no worker of the
/// process has a request pending (nearly always), this is one relaxed load
/// of a process-wide count and a branch, inlined: no thread-local lookup,
/// which cannot be inlined (current_worker_slot) and cost channel
/// operations 4% (issue 11).
inline void preempt_check() noexcept {
  if (__builtin_expect(preempt_requests().load(std::memory_order_relaxed) != 0, 0)) {
    preempt_check_slow();
  }
}

// ---------------------------------------------------------------------------
// Implementation.

template <class F>
struct boxed_function {
  explicit boxed_function(F* f) noexcept : fn(f) {}
  void operator()() {
    std::unique_ptr<F> owned(fn);
    (*owned)();
  }
  F* fn;
};

template <class Fn>
void invoke_and_destroy(void* storage) {
  Fn& fn = *static_cast<Fn*>(storage);
  struct destroy_on_exit {
    Fn& fn;
    ~destroy_on_exit() { fn.~Fn(); }
  } guard{fn};
  fn();
}

template <class F>
void scheduler::spawn(F&& fn, const char* file, unsigned line) {
  using Fn = std::decay_t<F>;
  worker* w = current_worker_slot();
  const bool own = w != nullptr && &w->sched == this;
  // The stack comes with the goroutine's registry slot and timer-heap
  // place (stack_pool.hpp); if constructing the function fails, the stack
  // and both go back.
  stack s = own ? pool_.take(w->pool) : pool_.take();
  struct discard_unless_used {
    shared_stack_pool& pool;
    stack& s;
    ~discard_unless_used() {
      if (s) pool.discard(std::move(s));
    }
  } discard{pool_, s};
  g_layout layout{};
  goroutine::invoke_fn invoke;
  if (layout_for<Fn>(s, layout)) {
    new (layout.fn) Fn(std::forward<F>(fn));
    invoke = &invoke_and_destroy<Fn>;
  } else {  // too big to keep on its own stack
    using Box = boxed_function<Fn>;
    if (!layout_for<Box>(s, layout)) fatal("a goroutine stack too small for a pointer");
    GORO_FAULT_ALLOCATION();
    new (layout.fn) Box(new Fn(std::forward<F>(fn)));
    invoke = &invoke_and_destroy<Box>;
  }
  const std::size_t usable = layout.usable;
  auto* g = new (layout.record)
      goroutine(std::move(s), this, next_goroutine_id(), invoke, layout.fn, usable);
  g->created_file = file;
  g->created_line = line;
  g_registry::publish(g, g->stk.registry_slot());
  // seq_cst: the monitor publishes "asleep" and then reads live_ (Dekker).
  if (live_.fetch_add(1, std::memory_order_seq_cst) == 0) monitor_needed();
  if (own) {
    const worker::pushed how = w->push_next(g);
    wake_after_own_push(how);
    // A goroutine that starts goroutines faster than they run would fill
    // memory with stacks; when its queue overflows it lets them run first.
    // Starting a goroutine is also a preemption point.
    if (w->current.load(std::memory_order_relaxed) != nullptr) {
      if (how == worker::pushed::overflowed) {
        switch_out(g_request::yield_global);
      } else if (w->preempt.load(std::memory_order_relaxed)) {
        preempt_now(*w);
      }
    }
  } else {
    global_push(&g, 1);
    wake_if_needed();
  }
}

inline void scheduler::ready(goroutine* g, worker* here) {
  GORO_ASSERT(g->status.load(std::memory_order_acquire) == g_status::waiting);
  GORO_ASSERT(here == current_worker_slot());
  g->status.store(g_status::runnable, std::memory_order_relaxed);
  if (here != nullptr && &here->sched == this) {
    wake_after_own_push(here->push_next(g));
    return;
  }
  // From outside (a plain thread, a blocking-call helper, another runtime):
  // once g is queued it may run and finish, and the runtime's destructor may
  // start; it waits for outside_wakers_ to drop, so this call never touches
  // a destroyed scheduler.
  outside_wakers_.fetch_add(1, std::memory_order_seq_cst);
  global_push(&g, 1);
  wake_if_needed();
  outside_wakers_.fetch_sub(1, std::memory_order_release);  // last touch of *this
}

inline scheduler::~scheduler() {
  if (worker* w = current_worker_slot(); w != nullptr && &w->sched == this) {
    fatal("a goro::runtime was destroyed by one of its own goroutines");
  }
  stop_monitor();
  stop_workers();
  if (netpoller* p = poller_.load(std::memory_order_acquire)) {
    // Goroutines of other runtimes may still wait on fds this poller
    // watches: they look again and move to their own runtime's poller.
    wait_queue woken;
    p->unbind_all(woken);
    wake_all(woken);
    delete p;
  }
}

inline void scheduler::goroutine_exited(stack_pool& local) {
  // The last goroutine's worker hands its stacks to the shared pool before
  // live_ reaches zero, so that a go() after wait() (from outside, where no
  // worker's pool is reachable) finds a stack without mapping one: that is
  // what lets go() work again after an out-of-memory (go_exhaustion.cpp).
  // Only the owning worker adds to `local`, so a flush made while live_ read
  // 1 still holds when the compare-exchange from 1 succeeds.
  std::int64_t n = live_.load(std::memory_order_relaxed);
  do {
    if (n == 1) pool_.give_all(local);
  } while (
      !live_.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel, std::memory_order_relaxed));
  if (n != 1) return;
  wait_queue woken;
  {
    std::lock_guard<spin_lock> guard(done_lock_);
    done_waiters_.claim_all_into(woken);
  }
  wake_all(woken);
}

inline void scheduler::unhandled_exception(goroutine& g, std::exception_ptr e) noexcept {
  if (options_.on_unhandled_exception) {
    GORO_TRY {
      options_.on_unhandled_exception(g.ctx.id(), e);
      return;
    }
    GORO_CATCH_ALL {
      e = std::current_exception();
      std::fprintf(stderr, "goro: the unhandled-exception handler threw\n");
    }
  }
  const char* what = "an exception not derived from std::exception";
#if defined(GORO_EXCEPTIONS)
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
#endif
  std::fprintf(stderr, "goro: fatal error: unhandled exception in goroutine %llu: %s\n",
               static_cast<unsigned long long>(g.ctx.id()), what);
  std::fflush(stderr);
  std::abort();
}

GORO_TSAN_NO_FRAME inline void goroutine::entry(void* self) noexcept {
  auto* g = static_cast<goroutine*>(self);
  GORO_TRY { g->invoke(g->fn_storage); }
  GORO_CATCH_ALL { g->sched->unhandled_exception(*g, std::current_exception()); }
  g->request = g_request::exit;
  worker* w = current_worker_slot();
  g->ctx.exit_to(*w->g0, w->slots);
}

inline void worker::request_preempt() noexcept {
  if (!preempt.exchange(true, std::memory_order_relaxed)) {
    preempt_requests().fetch_add(1, std::memory_order_relaxed);
  }
}

inline void worker::clear_preempt() noexcept {
  if (preempt.exchange(false, std::memory_order_relaxed)) {
    preempt_requests().fetch_sub(1, std::memory_order_relaxed);
  }
}

GORO_ALWAYS_INLINE worker::pushed worker::push_next(goroutine* g) {
  // With more than one worker runnext's put is a seq_cst exchange
  // (runnext_slot.hpp); into an empty slot it is the only publication, and
  // it serves as the adder's half of the Dekker handshake with sleep()
  // (whose work_visible reads runnext), saving wake_if_needed's fence: two
  // per W2 round trip with two workers, about 10% of its time. A kicked-out
  // occupant goes to the local queue by a plain release store, after which
  // the fence is needed again. Only a one-worker runtime's put may be
  // plain, and there wake_after_own_push wakes nobody.
  GORO_ASSERT(runnext.put_is_fence() || sched.options().workers == 1);
  goroutine* old = runnext.put(g);
  if (old == nullptr) return pushed::into_empty_runnext;
  return push_tail(old) ? pushed::overflowed : pushed::kicked_to_local;
}

inline bool worker::push_tail(goroutine* g) {
  if (local.push(g)) return false;
  return push_tail_overflow(g);
}

__attribute__((noinline)) inline bool worker::push_tail_overflow(goroutine* g) {
  for (;;) {
    if (local.push(g)) return false;
    goroutine* batch[run_queue::capacity / 2 + 1];
    std::uint32_t n = local.take_half(batch);
    if (n == 0) continue;  // thieves made room meanwhile
    batch[n++] = g;
    sched.global_push(batch, n);
    return true;
  }
}

inline void worker::run() {
  current_worker_slot() = this;
  context self;  // this thread's own execution: g0
  g0 = &self;
  slots = current_thread_switch_slots();
  while (goroutine* g = next_goroutine()) execute(g);
  clear_preempt();  // a request left over from the monitor's last look
  current_worker_slot() = nullptr;
}

GORO_ALWAYS_INLINE void worker::execute(goroutine* g) {
  GORO_ASSERT(g->status.load(std::memory_order_relaxed) == g_status::runnable);
  g->status.store(g_status::running, std::memory_order_relaxed);
  current.store(g, std::memory_order_relaxed);
  schedtick.store(schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // A new slice, unless g came from runnext straight after the goroutine
  // that readied it (see "Time slices" in the file comment).
  if (!inherit_slice) {
    slicetick.store(slicetick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (preempt.load(std::memory_order_relaxed)) clear_preempt();
  }
  inherit_slice = false;
  g0->switch_to(g->ctx, slots);
  current.store(nullptr, std::memory_order_relaxed);
  const g_request request = g->request;
  g->request = g_request::none;
  switch (request) {
    case g_request::park: {
      // From here on another worker may resume g: read what we need first.
      void (*unlock)(void*) = park_unlock;
      void* arg = park_unlock_arg;
      g->status.store(g_status::waiting, std::memory_order_release);
      unlock(arg);
      break;
    }
    case g_request::yield:
      g->status.store(g_status::runnable, std::memory_order_relaxed);
      push_tail(g);
      break;
    case g_request::yield_global:
      g->status.store(g_status::runnable, std::memory_order_relaxed);
      sched.global_push(&g, 1);
      break;
    case g_request::exit:
      finish(g);
      break;
    case g_request::none:
      fatal("a goroutine switched to its worker without saying why");
  }
}

GORO_ALWAYS_INLINE void worker::finish(goroutine* g) {
  sched.registry_.remove(g->stk.registry_slot(), index);
  g->status.store(g_status::dead, std::memory_order_relaxed);
  const stack_handle s = g->stk.release();  // the record lives on it: out before it goes
  g->~goroutine();
  sched.pool_.give(pool, s);
  sched.goroutine_exited(pool);
}

inline void worker::wake_from_idle() noexcept {
  sleeper.unpark();
  // Dekker with sleep(): it sets in_poll, then takes any token; we leave the
  // token, then read in_poll. Whichever comes second sees the other.
  full_fence();
  if (in_poll.load(std::memory_order_seq_cst)) sched.poller_if_started()->backend.interrupt();
}

/// Milliseconds from now until `deadline`, rounded up, for a poll timeout;
/// -1 for no deadline.
inline int poll_timeout_ms(steady_clock::time_point deadline) noexcept {
  if (deadline == steady_clock::time_point::max()) return -1;
  const auto now = steady_clock::now();
  if (deadline <= now) return 0;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now).count();
  const long long ms = (ns + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

/// Looks at the netpoller if goroutines wait on fds and no other worker is
/// polling, for up to timeout_ms, and readies the goroutines whose fds are
/// ready. Returns whether it readied any.
__attribute__((noinline)) inline bool worker::poll_network(int timeout_ms) {
  netpoller* np = sched.poller_if_started();
  if (np == nullptr || !np->has_waiters() || !np->try_acquire()) return false;
  wait_queue woken;
  np->poll(timeout_ms, woken);
  np->release();
  if (woken.empty()) return false;
  wake_all(woken);
  return true;
}

inline void worker::run_due_timers() {
  if (sched.timers_.empty()) return;
  constexpr std::size_t batch = sizeof due / sizeof due[0];
  std::size_t n = batch;
  // Fire in deadline order; a fire function may re-arm its node (tickers).
  // A re-armed ticker due again is taken by a later batch or call, so a
  // ticker faster than the clock cannot keep this loop going.
  for (int rounds = 0; n == batch && rounds < 16; ++rounds) {
    n = sched.timers_.take_due(steady_clock::now(), due, batch);
    for (std::size_t i = 0; i < n; ++i) due[i]->fire(due[i]);
  }
}

/// The pick's common path, inline in the run loop: a goroutine from runnext
/// or the local queue. Everything rare (the 61st pick's look at the global
/// queue and the netpoller, a pending preemption, shutdown, armed timers, an
/// empty local queue) is find_work's, out of line, behind one combined test.
GORO_ALWAYS_INLINE goroutine* worker::next_goroutine() {
  --fair_countdown;
  if (__builtin_expect(fair_countdown == 0 || preempt.load(std::memory_order_relaxed) ||
                           sched.stopping_.load(std::memory_order_acquire) ||
                           !sched.timers_.empty(),
                       0)) {
    return find_work(/*ticked=*/true);
  }
  if (goroutine* g = runnext.take()) {
    inherit_slice = true;  // nothing slept: the previous goroutine ran here
    return g;
  }
  if (goroutine* g = local.pop()) return g;
  return find_work(/*ticked=*/true);
}

inline goroutine* worker::try_local_and_global(bool ticked) {
  if (!ticked) --fair_countdown;
  if (fair_countdown == 0) {
    fair_countdown = fair_period;
    // Busy workers serve I/O too, or a worker that always has work would
    // leave fd waiters to an idle one that may never come.
    poll_network(0);
    // Now and then the global queue comes first: other workers' goroutines
    // feed it, and a worker that always has work of its own would starve it.
    if (goroutine* g = sched.global_take(*this, 1)) return g;
  }
  if (preempt.load(std::memory_order_relaxed)) {
    // The slice is over (the monitor asked) and its goroutine switched out
    // before reaching a preemption point: the local queue comes before
    // runnext, or a pair handing the worker back and forth through runnext
    // would starve it forever. The goroutine taken starts a new slice, so
    // the request is spent. Not every 61st pick, as before the monitor: that
    // broke a chain of hand-offs (W5's sieve) into a breadth-first order,
    // +32% instructions and +60% time with one worker (docs/design.md).
    clear_preempt();
    if (goroutine* g = local.pop()) return g;
  }
  if (goroutine* g = runnext.take()) {
    inherit_slice = !slept;
    return g;
  }
  if (goroutine* g = local.pop()) return g;
  return sched.global_take(*this, run_queue::capacity / 2);
}

inline goroutine* worker::steal_runnext(worker& victim) {
  if (victim.runnext.peek() == nullptr) return nullptr;
  // The victim will most likely run it itself as soon as its goroutine
  // parks; stealing it now would cost a cache-cold migration. So the thief
  // waits, and takes it only if the victim picked nothing meanwhile (stuck
  // in one goroutine). It waits whether or not a goroutine runs there at
  // this instant: a worker between two goroutines, in its own context, is
  // about to pick this one. Waiting only while `current` was set let a
  // thief take a ping-pong pair's next goroutine whenever it looked while
  // the victim was between the two: W2 with two workers moved its pair
  // from worker to worker, cache-cold each time (test_scheduler.cpp).
  // (A victim that sleeps has nothing in runnext: its owner takes it
  // before sleeping.)
  //
  // The wait sleeps, as Go's does (usleep(3)): on a machine with more
  // runnable threads than cores the victim's thread may be waiting for this
  // very CPU. It also keeps an idle thief off the victim's cache lines: the
  // kernel's timer slack stretches the 3 us to 50-90, and a thief that spun
  // through them instead (calling sched_yield) kept reading the runnext and
  // tick of a worker running a ping-pong, whose writes to them then missed
  // the cache (docs/design.md, "Spinning on a busy machine").
  const std::uint64_t tick_before = victim.schedtick.load(std::memory_order_relaxed);
  const timespec pause_for{0, 3000};
  nanosleep(&pause_for, nullptr);
  if (victim.schedtick.load(std::memory_order_relaxed) != tick_before) return nullptr;
  return victim.runnext.steal();
}

inline goroutine* worker::steal_work() {
  const std::size_t n = sched.workers_.size();
  for (int round = 0; round < 4; ++round) {
    const std::size_t start = platform_cast<std::size_t>(random() % n);
    for (std::size_t i = 0; i < n; ++i) {
      worker& victim = *sched.workers_[(start + i) % n];
      if (&victim == this) continue;
      if (goroutine* g = victim.local.steal_half_into(local)) return g;
      if (round == 3) {
        if (goroutine* g = steal_runnext(victim)) return g;
      }
    }
    if (goroutine* g = sched.global_take(*this, run_queue::capacity / 2)) return g;
  }
  return nullptr;
}

inline void worker::stop_spinning() {
  spinning = false;
  // The last spinner found work; there may be more, so start another.
  if (sched.n_spinning_.fetch_sub(1, std::memory_order_seq_cst) == 1) sched.wake_if_needed();
}

inline void worker::sleep(steady_clock::time_point wake_by) {
  slept = true;
  if (!sched.list_idle(*this)) return;
  if (spinning) {
    spinning = false;
    sched.n_spinning_.fetch_sub(1, std::memory_order_seq_cst);
  }
  full_fence();
  // Re-check after announcing: see "Spinning" in the file comment.
  if (sched.work_visible() || sched.stopping_.load(std::memory_order_seq_cst)) {
    if (!sched.unlist_idle(*this)) spinning = true;
    return;
  }
  netpoller* np = sched.poller_if_started();
  if (np != nullptr && np->has_waiters() && np->try_acquire()) {
    // Sleep in the poller: goroutines wait on fds. See wake_from_idle for
    // the handshake; a token left before in_poll was set ends it at once.
    in_poll.store(true, std::memory_order_seq_cst);
    full_fence();
    wait_queue woken;
    if (!sleeper.try_take())
      np->poll(poll_timeout_ms(std::min(sched.timers_.earliest(), wake_by)), woken);
    in_poll.store(false, std::memory_order_seq_cst);
    np->release();
    (void)sleeper.try_take();  // a waker's token: we are awake already
    if (!sched.unlist_idle(*this)) spinning = true;
    wake_all(woken);  // once unlisted, so that readying them does not wake us
    return;
  }
  sleeper.park_until(std::min(sched.timers_.earliest(), wake_by));
  // Woken by a waker (which unlisted us and counted us as spinning), by a
  // timer deadline, by shutdown, or by a stale token: in the last three we
  // may still be listed.
  if (!sched.unlist_idle(*this)) spinning = true;
}

/// next_goroutine's slow path; `ticked`: the caller counted this pick in
/// fair_countdown already.
__attribute__((noinline)) inline goroutine* worker::find_work(bool ticked) {
  slept = false;
  for (;;) {
    if (sched.stopping_.load(std::memory_order_acquire)) {
      if (spinning) {
        spinning = false;
        sched.n_spinning_.fetch_sub(1, std::memory_order_seq_cst);
      }
      return nullptr;
    }
    run_due_timers();
    goroutine* g = try_local_and_global(ticked);
    ticked = false;
    if (g == nullptr && poll_network(0)) continue;  // it readied goroutines here
    if (g == nullptr) {
      const std::size_t busy = sched.workers_.size() - sched.idle_.size(std::memory_order_relaxed);
      if (spinning || 2 * sched.n_spinning_.load(std::memory_order_relaxed) < busy) {
        if (!spinning) {
          spinning = true;
          sched.n_spinning_.fetch_add(1, std::memory_order_seq_cst);
        }
        g = steal_work();
      }
    }
    if (g != nullptr) {
      if (spinning) stop_spinning();
      return g;
    }
    sched.pool_.give_all(pool);  // idle: a worker with nothing to run keeps no stacks
    switch (sched.pool_.trim()) {
      case shared_stack_pool::trim_result::trimmed:
        continue;  // gave surplus stacks back: look for work, then trim more
      case shared_stack_pool::trim_result::in_demand:
        sleep(steady_clock::now() + shared_stack_pool::trim_delay);  // then trim, if still idle
        break;
      case shared_stack_pool::trim_result::nothing:
        sleep();
        break;
    }
  }
}

}  // namespace goro::detail

// The wait layer's definitions of wake() and wake_all(), which the code
// above calls (declared in wait/waiter.hpp): they need the complete
// scheduler, so they come after it. wait.hpp includes this file first, so
// whichever of the two a user includes, the scheduler comes first.
#include "wait/wait.hpp"

#endif
