// monitor.hpp: one watcher thread per runtime, after Go's sysmon.
//
// The monitor wakes now and then and looks at the workers without taking
// part in scheduling:
//
// * Time slices (retake): a worker whose `slicetick` has not moved for 10 ms
//   while it runs a goroutine gets its `preempt` flag set; the goroutine
//   yields at its next preemption point (scheduler.hpp, preempt_check). Like
//   Go's sysmon, the monitor stamps a slice when it first sees its tick, so
//   a goroutine is asked after 10 to 20 ms; the workers never read the clock.
// * Stuck workers: a worker whose `schedtick` has not moved for 20 ms while
//   goroutines wait in its local queue or runnext gets an idle worker woken,
//   which steals them (runnext too: its owner has not switched for 20 ms).
//   Overdue timers get an idle worker woken the same way.
// * Spare workers: when every worker (and every spare already running) is
//   stuck like that while goroutines wait anywhere or a timer is due, the
//   monitor starts a spare worker thread (spare_workers.hpp), at most
//   runtime_options::spare_workers at once; it asks them to retire once a
//   worker switches again, and joins them when they have.
// * Netpoll: when goroutines wait on fds and nobody has polled the
//   netpoller for 10 ms (every worker busy), the monitor polls it without
//   blocking and readies whoever it finds, onto the global queue (Go's
//   sysmon does the same).
// * Deadlock: when, on two checks at least 100 ms apart, every runtime of the
//   process is idle with no runnable goroutine, no timer, no fd waiter; no
//   goro::blocking call is in flight; every live goroutine is parked; and
//   the threads of the process (/proc/self/task) are exactly goro's own
//   plus the plain threads parked in goro with no deadline (census in
//   wait/reason.hpp) — and nothing ran in between — nothing can ever run
//   again. The monitor prints Go's message and a goroutine dump and aborts
//   (or calls runtime_options::on_deadlock). Any thread goro does not know
//   about (a sanitizer's, a thread in read() or sleep) makes the counts
//   differ, so the check errs on the side of silence.
// * Tracing (GORO_SCHEDTRACE / runtime_options::schedtrace_ms) and
//   SIGQUIT dumps (GORO_SIGQUIT_DUMP / runtime_options::sigquit_dump).
// * A coarse clock (coarse_now_ns, wait/wait.hpp) that parking goroutines stamp
//   their wait with, so that parking never reads the clock.
//
// Sleeping: 20 µs after it woke a worker, doubling after 50 quiet rounds up
// to 10 ms (Go's sysmon delays; as there, a preemption request is not a
// reason to look again sooner). With no goroutine in its runtime for two rounds at
// 10 ms it parks on its condition variable until spawn sees the goroutine
// count leave zero (monitor_needed; a Dekker handshake on `asleep_` and the
// count, both seq_cst). So a busy runtime pays one wake-up every 10 ms, and an
// empty one nothing.
//
// Lock order: the runtime registry's lock, then a scheduler's g_registry
// shards (all of them, in index order). Handlers and the
// abort run with no goro lock held.
#ifndef GORO_DETAIL_MONITOR_HPP
#define GORO_DETAIL_MONITOR_HPP

#include "../config.hpp"
#include "backtrace.hpp"
#include "scheduler.hpp"
#include "spare_workers.hpp"
#include "wait/reason.hpp"
#include "wait/wait.hpp"

#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace goro::detail {

/// Every running scheduler of the process: deadlocks and SIGQUIT dumps
/// concern all of them. Never destroyed (monitor threads of the leaked
/// default runtime still run while static destructors do).
struct runtime_registry {
  std::mutex lock;
  std::vector<scheduler*> all;  ///< guarded by lock
  /// The state last reported as a deadlock, so that one deadlock is reported
  /// once; guarded by lock.
  std::uint64_t reported_ticks = ~std::uint64_t{0};
};

inline runtime_registry& registry() noexcept {
  static runtime_registry* r = new runtime_registry();
  return *r;
}

/// SIGQUITs received; monitors dump when it moves.
inline std::atomic<std::uint32_t>& sigquit_count() noexcept {
  static std::atomic<std::uint32_t> n{0};
  return n;
}

extern "C" inline void goro_sigquit_handler(int) { sigquit_count().fetch_add(1); }

/// Installs the SIGQUIT handler once per process.
inline void install_sigquit_handler() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = &goro_sigquit_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGQUIT, &sa, nullptr);
  });
}

/// An environment variable as a positive number, or 0.
inline unsigned env_number(const char* name) noexcept {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return 0;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (*end != '\0' || v < 0 || v > 3600000) {
    std::fprintf(stderr, "goro: ignoring %s=%s (want a number from 0 to 3600000)\n", name, s);
    return 0;
  }
  return static_cast<unsigned>(v);
}

/// Threads of the process now, or -1 if /proc cannot say.
inline long count_process_threads() noexcept {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  long n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

inline std::int64_t steady_ns(steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

/// One goroutine's block of a dump: read while its runtime's registry is
/// frozen, written after the freeze ends (see backtrace::write_frames: naming
/// frames must not wait for the loader while go() waits for the registry).
struct dump_block {
  std::uint64_t id = 0;
  std::string head;  ///< the header line and the channel line
  std::vector<backtrace::named_frame> frames;
  const char* created_file = nullptr;
  unsigned created_line = 0;
};

/// Reads one goroutine's block (the caller holds a freeze of its runtime's
/// registry: g and its stack stay alive).
inline dump_block read_block(goroutine& g, std::int64_t now_ns) {
  dump_block b;
  b.id = g.ctx.id();
  std::ostringstream out;
  out << "goroutine " << b.id << " [";
  const g_status st = g.status.load(std::memory_order_acquire);
  const wait_reason reason = g.reason.load(std::memory_order_relaxed);
  const void* object = g.wait_object.load(std::memory_order_relaxed);
  if (st == g_status::running) {
    out << "running";
  } else if (st == g_status::runnable || reason == wait_reason::none) {
    out << "runnable";
  } else {
    out << wait_reason_name(reason);
    // As Go: the wait only once it has lasted a minute.
    const std::int64_t since = g.wait_since.load(std::memory_order_relaxed);
    const std::int64_t minutes = since > 0 ? (now_ns - since) / 60000000000 : 0;
    if (minutes >= 1) out << ", " << minutes << (minutes == 1 ? " minute" : " minutes");
  }
  out << "]:\n";
  if (st == g_status::waiting && object != nullptr &&
      (reason == wait_reason::chan_send || reason == wait_reason::chan_receive)) {
    // Length from the channel's invariant (a waiting receiver means an
    // empty buffer, a waiting sender a full one): the channel itself is
    // never read, it may be gone by now.
    const std::size_t cap = g.wait_capacity.load(std::memory_order_relaxed);
    out << "\tchan " << object << " (capacity " << cap << ", length "
        << (reason == wait_reason::chan_send ? cap : 0) << ")\n";
  }
  b.head = out.str();
  // The stack it is suspended in: only a waiting or runnable goroutine has
  // saved registers (a running one's are live on some worker).
  if (st == g_status::waiting || st == g_status::runnable) {
    b.frames = backtrace::capture_frames(g.ctx, reinterpret_cast<std::uintptr_t>(g.stk.bottom()),
                                         reinterpret_cast<std::uintptr_t>(g.stk.top()));
  }
  b.created_file = g.created_file;  // a string literal (__builtin_FILE): outlives g
  b.created_line = g.created_line;
  return b;
}

/// Writes a block read by read_block, in Go's format.
inline void write_block(std::ostream& out, dump_block& b) {
  out << b.head;
  backtrace::write_frames(out, b.frames);
  if (b.created_file != nullptr)
    out << "created by " << b.created_file << ':' << b.created_line << '\n';
  out << '\n';
}

inline void scheduler::dump_goroutines(std::ostream& out) {
  const std::int64_t now = steady_ns(steady_clock::now());
  std::vector<dump_block> blocks;
  {
    // Frozen while read: what the dump shows is one moment, and no
    // goroutine it lists can be freed meanwhile.
    g_registry::freeze frozen(registry_);
    std::vector<goroutine*> gs;
    registry_.each([&](goroutine* g) {
      gs.push_back(g);
      return true;
    });
    blocks.reserve(gs.size());
    for (goroutine* g : gs) blocks.push_back(read_block(*g, now));
  }
  // Oldest first, as Go lists them: ids are given in order of creation.
  std::sort(blocks.begin(), blocks.end(),
            [](const dump_block& a, const dump_block& b) { return a.id < b.id; });
  for (dump_block& b : blocks) write_block(out, b);
}

/// What a deadlock check saw; two equal candidate snapshots a while apart
/// mean a deadlock.
struct deadlock_snapshot {
  bool candidate = false;
  std::uint64_t ticks = 0;  ///< sum of every worker's schedtick
  std::int64_t live = 0;
  std::int64_t threads_parked = 0;
  long threads = 0;
  bool same_as(const deadlock_snapshot& o) const noexcept {
    return candidate && o.candidate && ticks == o.ticks && live == o.live &&
           threads_parked == o.threads_parked && threads == o.threads;
  }
};

class monitor {
 public:
  static constexpr auto slice = std::chrono::milliseconds(10);
  static constexpr auto stuck_after = std::chrono::milliseconds(20);
  static constexpr auto min_delay = std::chrono::microseconds(20);
  static constexpr auto max_delay = std::chrono::milliseconds(10);
  static constexpr auto deadlock_gap = std::chrono::milliseconds(100);
  static constexpr auto netpoll_after = std::chrono::milliseconds(10);

  explicit monitor(scheduler& s)
      : sched_(s),
        watches_(s.workers_.size()),
        spares_(s, s.options_.spare_workers),
        spare_watches_(s.options_.spare_workers) {
    trace_ms_ =
        s.options_.schedtrace_ms != 0 ? s.options_.schedtrace_ms : env_number("GORO_SCHEDTRACE");
    sigquit_ = s.options_.sigquit_dump || env_number("GORO_SIGQUIT_DUMP") != 0;
    if (sigquit_) install_sigquit_handler();
    seen_sigquit_ = sigquit_count().load();
  }

  void start() {
    thread_ = std::thread([this] { run_own_thread("monitor", [this] { run(); }); });
    process_census().goro_threads.fetch_add(1, std::memory_order_relaxed);
  }

  void stop() noexcept {
    {
      std::lock_guard<std::mutex> guard(lock_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) {
      thread_.join();
      process_census().goro_threads.fetch_sub(1, std::memory_order_relaxed);
    }
    spares_.stop();  // no monitor left to start one
  }

  /// Spawn saw the goroutine count leave zero: wake the monitor if it parked.
  void needed() noexcept {
    if (!asleep_.load(std::memory_order_seq_cst)) return;
    {
      std::lock_guard<std::mutex> guard(lock_);
      woken_ = true;
    }
    cv_.notify_one();
  }

  /// Time slices it has ended (for tests and the trace).
  std::uint64_t preemptions() const noexcept {
    return preemptions_.load(std::memory_order_relaxed);
  }

  /// The runtime's spare workers (any thread may read their counts).
  const spare_workers& spares() const noexcept { return spares_; }

 private:
  struct watch {
    std::uint64_t slicetick = 0;
    steady_clock::time_point slice_seen{};
    std::uint64_t schedtick = 0;
    steady_clock::time_point sched_seen{};
  };

  void run();
  bool retake(steady_clock::time_point now);
  bool watch_one(worker& w, watch& ww, steady_clock::time_point now);
  bool manage_spares(bool all_stuck, steady_clock::time_point now);
  bool poll_network(steady_clock::time_point now);
  void trace(steady_clock::time_point now);
  void check_deadlock(steady_clock::time_point now);
  void dump_all_on_sigquit();
  static deadlock_snapshot take_deadlock_snapshot(runtime_registry& r);

  scheduler& sched_;
  std::vector<watch> watches_;  ///< one per worker; the monitor thread's own
  spare_workers spares_;
  std::vector<watch> spare_watches_;  ///< one per spare slot; the monitor thread's own
  std::uint64_t polls_seen_ = 0;      ///< the netpoller's poll count last seen
  steady_clock::time_point polls_seen_at_{};
  std::thread thread_;
  std::mutex lock_;
  std::condition_variable cv_;
  bool stop_ = false;   ///< guarded by lock_
  bool woken_ = false;  ///< guarded by lock_
  std::atomic<bool> asleep_{false};
  std::atomic<std::uint64_t> preemptions_{0};
  unsigned trace_ms_ = 0;
  bool sigquit_ = false;
  std::uint32_t seen_sigquit_ = 0;
  steady_clock::time_point started_ = steady_clock::now();
  steady_clock::time_point next_trace_{};
  steady_clock::time_point last_deadlock_check_{};
  deadlock_snapshot last_snapshot_{};
};

inline void monitor::run() {
  auto delay = std::chrono::duration_cast<std::chrono::microseconds>(min_delay);
  int quiet = 0;         // rounds in a row in which the monitor did nothing
  int empty_rounds = 0;  // rounds in a row at the longest delay with no goroutine
  for (;;) {
    {
      std::unique_lock<std::mutex> guard(lock_);
      if (stop_) return;
      if (empty_rounds >= 2 && trace_ms_ == 0 && !sigquit_ && spares_.running() == 0) {
        asleep_.store(true, std::memory_order_seq_cst);
        if (sched_.live_.load(std::memory_order_seq_cst) == 0) {
          cv_.wait(guard, [&] { return stop_ || woken_; });
        }
        asleep_.store(false, std::memory_order_relaxed);
        woken_ = false;
        empty_rounds = 0;
        quiet = 0;
        delay = std::chrono::duration_cast<std::chrono::microseconds>(min_delay);
        last_snapshot_ = {};
        // Slices were not watched while asleep: start them from now.
        const auto now = steady_clock::now();
        for (watch& w : watches_) w.slice_seen = w.sched_seen = now;
      } else {
        cv_.wait_for(guard, delay, [&] { return stop_; });
      }
      if (stop_) return;
    }
    const auto now = steady_clock::now();
    coarse_now_ns().store(steady_ns(now), std::memory_order_relaxed);
    const bool acted = retake(now);
    if (trace_ms_ != 0 && now >= next_trace_) trace(now);
    if (sigquit_ && sigquit_count().load() != seen_sigquit_) dump_all_on_sigquit();
    if (acted) {
      quiet = 0;
      delay = std::chrono::duration_cast<std::chrono::microseconds>(min_delay);
    } else if (++quiet > 50) {
      delay = std::min(delay * 2, std::chrono::duration_cast<std::chrono::microseconds>(max_delay));
    }
    if (!acted && sched_.options_.detect_deadlock && now - last_deadlock_check_ >= deadlock_gap) {
      last_deadlock_check_ = now;
      check_deadlock(now);
    }
    if (delay >= max_delay && sched_.live_.load(std::memory_order_relaxed) == 0) {
      ++empty_rounds;
    } else {
      empty_rounds = 0;
    }
  }
}

/// Updates the watch of one worker or spare: asks for a preemption when its
/// slice is over. Returns whether it is stuck (running one goroutine that has
/// not switched for stuck_after).
inline bool monitor::watch_one(worker& w, watch& ww, steady_clock::time_point now) {
  const bool running = w.current.load(std::memory_order_relaxed) != nullptr;
  const std::uint64_t st = w.slicetick.load(std::memory_order_relaxed);
  if (st != ww.slicetick) {
    ww.slicetick = st;
    ww.slice_seen = now;
  } else if (running && now - ww.slice_seen >= slice) {
    // Re-armed every slice while the goroutine ignores it: a worker that
    // switched and came back to the same tick count cannot exist, so this
    // is the same slice.
    ww.slice_seen = now;
    // Not "acted": as in Go's sysmon, asking for a preemption does not
    // shorten the monitor's sleep (a steady stream of long slices would
    // otherwise keep it waking every 20 us for nothing).
    if (!w.preempt.load(std::memory_order_relaxed)) {
      w.request_preempt();
      preemptions_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  const std::uint64_t sk = w.schedtick.load(std::memory_order_relaxed);
  if (sk != ww.schedtick) {
    ww.schedtick = sk;
    ww.sched_seen = now;
    return false;
  }
  return running && now - ww.sched_seen >= stuck_after;
}

inline bool has_queued(const worker& w) noexcept {
  return !w.local.empty() || w.runnext.peek() != nullptr;
}

inline bool monitor::retake(steady_clock::time_point now) {
  bool acted = poll_network(now);
  bool wake_helper = false;
  bool all_stuck = !watches_.empty();
  for (std::size_t i = 0; i < watches_.size(); ++i) {
    worker& w = *sched_.workers_[i];
    if (!watch_one(w, watches_[i], now)) {
      all_stuck = false;
    } else if (has_queued(w)) {
      wake_helper = true;
    }
  }
  if (wake_helper) {
    sched_.wake_if_needed();
    acted = true;
  }
  // Timers overdue by a slice: every worker is busy past its slice or
  // asleep too long; an idle one fires them.
  const steady_clock::time_point earliest = sched_.timers_.earliest();
  if (earliest != steady_clock::time_point::max() && earliest < now - slice) {
    sched_.wake_if_needed(/*for_timer=*/true);
    acted = true;
  }
  if (manage_spares(all_stuck, now)) acted = true;
  return acted;
}

/// Joins retired spares, asks the running ones to retire once a worker
/// switches again, and starts one when every worker and spare is stuck while
/// work waits. Returns whether it started one.
inline bool monitor::manage_spares(bool all_stuck, steady_clock::time_point now) {
  if (spares_.capacity() == 0) return false;
  spares_.reap();
  bool spare_free = false;  // a running spare that is not stuck will find the work
  bool queued = false;      // a stuck spare holds goroutines in its queues
  for (std::size_t i = 0; i < spares_.capacity(); ++i) {
    spare_slot& s = spares_.slot(i);
    if (!s.running) continue;
    if (!watch_one(s.w, spare_watches_[i], now)) {
      spare_free = true;
    } else if (has_queued(s.w)) {
      queued = true;
    }
  }
  if (!all_stuck) {
    if (spares_.running() != 0) spares_.retire_all();
    return false;
  }
  if (spare_free || !(queued || sched_.work_visible())) return false;
  const long started = spares_.start_one();  // -1: all running, or refused (tried again later)
  if (started < 0) return false;
  const auto i = static_cast<std::size_t>(started);
  watch& ww = spare_watches_[i];
  ww.slicetick = spares_.slot(i).w.slicetick.load(std::memory_order_relaxed);
  ww.schedtick = spares_.slot(i).w.schedtick.load(std::memory_order_relaxed);
  ww.slice_seen = ww.sched_seen = now;
  return true;
}

/// Polls the netpoller without blocking when goroutines wait on fds and no
/// worker has polled it for netpoll_after (all busy); the goroutines it
/// readies go to the global queue. A worker blocked in the poller holds the
/// right to poll, and then this does nothing. Returns whether it readied any.
inline bool monitor::poll_network(steady_clock::time_point now) {
  netpoller* np = sched_.poller_if_started();
  if (np == nullptr || !np->has_waiters()) return false;
  const std::uint64_t polls = np->polls();
  if (polls != polls_seen_) {
    polls_seen_ = polls;
    polls_seen_at_ = now;
    return false;
  }
  if (now - polls_seen_at_ < netpoll_after || !np->try_acquire()) return false;
  wait_queue woken;
  np->poll(0, woken);
  np->release();
  polls_seen_ = np->polls();
  polls_seen_at_ = now;
  if (woken.empty()) return false;
  wake_all(woken);
  return true;
}

inline void monitor::trace(steady_clock::time_point now) {
  next_trace_ = now + std::chrono::milliseconds(trace_ms_);
  std::ostringstream line;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
  line << "SCHED " << ms << "ms: workers=" << sched_.workers_.size()
       << " idle=" << sched_.idle_.size(std::memory_order_relaxed)
       << " spinning=" << sched_.n_spinning_.load(std::memory_order_relaxed)
       << " globrunq=" << sched_.global_.size(std::memory_order_relaxed) << " runqueue=[";
  for (std::size_t i = 0; i < sched_.workers_.size(); ++i) {
    worker& w = *sched_.workers_[i];
    const bool next = w.runnext.peek() != nullptr;
    line << (i == 0 ? "" : " ") << w.local.size() + (next ? 1u : 0u);
  }
  line << "] goroutines=" << sched_.live() << " timers=" << sched_.timers_.size()
       << " preemptions=" << preemptions() << " spares=" << spares_.running() << '\n';
  const std::string s = line.str();
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

inline void monitor::dump_all_on_sigquit() {
  seen_sigquit_ = sigquit_count().load();
  std::ostringstream out;
  out << "goro: SIGQUIT: goroutines of runtime " << sched_.owner << ":\n\n";
  sched_.dump_goroutines(out);
  const std::string s = out.str();
  std::lock_guard<std::mutex> guard(registry().lock);  // one runtime's dump at a time
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

/// Registry lock held. See "Deadlock" in the file comment.
inline deadlock_snapshot monitor::take_deadlock_snapshot(runtime_registry& r) {
  deadlock_snapshot snap;
  census& c = process_census();
  if (c.blocking_calls.load(std::memory_order_seq_cst) != 0) return snap;
  for (scheduler* s : r.all) {
    if (!s->options_.detect_deadlock || s->stopping_.load(std::memory_order_seq_cst)) return snap;
    if (s->spare_workers_running() != 0) return snap;
    if (s->idle_.size(std::memory_order_seq_cst) != s->workers_.size()) return snap;
    for (auto& w : s->workers_) {
      if (w->current.load(std::memory_order_seq_cst) != nullptr) return snap;
      snap.ticks += w->schedtick.load(std::memory_order_relaxed);
    }
    if (s->work_visible() || !s->timers_.empty()) return snap;
    if (netpoller* p = s->poller_if_started(); p != nullptr && p->has_waiters()) return snap;
    g_registry::freeze frozen(s->registry_);
    const bool all_waiting = s->registry_.each([&](goroutine* g) {
      if (g->status.load(std::memory_order_acquire) != g_status::waiting) return false;
      ++snap.live;
      return true;
    });
    if (!all_waiting) return snap;
  }
  snap.threads_parked = c.threads_parked.load(std::memory_order_seq_cst);
  snap.threads = count_process_threads();
  const std::int64_t goro = c.goro_threads.load(std::memory_order_seq_cst);
  if (snap.live == 0 || snap.threads < 0 || snap.threads != goro + snap.threads_parked) {
    return snap;
  }
  snap.candidate = true;
  return snap;
}

inline void monitor::check_deadlock(steady_clock::time_point) {
  runtime_registry& r = registry();
  std::function<void()> handler;
  std::ostringstream report;
  {
    std::lock_guard<std::mutex> guard(r.lock);
    const deadlock_snapshot snap = take_deadlock_snapshot(r);
    const bool deadlock = snap.same_as(last_snapshot_) && snap.ticks != r.reported_ticks;
    last_snapshot_ = snap;
    if (!deadlock) return;
    r.reported_ticks = snap.ticks;
    if (sched_.options_.on_deadlock) {
      handler = sched_.options_.on_deadlock;
    } else {
      report << "goro: fatal error: all goroutines are asleep - deadlock!\n\n";
      for (scheduler* s : r.all) s->dump_goroutines(report);
      if (snap.threads_parked > 0) {
        report << snap.threads_parked << (snap.threads_parked == 1 ? " thread" : " threads")
               << " (main or a std::thread) also blocked in goro\n";
      }
    }
  }
  if (handler) {
    handler();
    return;
  }
  const std::string s = report.str();
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
  std::abort();
}

inline void scheduler::start_monitor() {
  monitor_ = new monitor(*this);
  {
    std::lock_guard<std::mutex> guard(registry().lock);
    registry().all.push_back(this);
  }
  GORO_TRY { monitor_->start(); }
  GORO_CATCH_ALL {
    stop_monitor();
    GORO_RETHROW;
  }
}

inline void scheduler::stop_monitor() noexcept {
  {
    std::lock_guard<std::mutex> guard(registry().lock);
    auto& all = registry().all;
    all.erase(std::remove(all.begin(), all.end(), this), all.end());
  }
  if (monitor_ != nullptr) {
    monitor_->stop();
    delete monitor_;
    monitor_ = nullptr;
  }
}

inline std::size_t scheduler::spare_workers_running() const noexcept {
  return monitor_ != nullptr ? monitor_->spares().running() : 0;
}

inline std::uint64_t scheduler::spare_workers_started() const noexcept {
  return monitor_ != nullptr ? monitor_->spares().started() : 0;
}

inline void scheduler::monitor_needed() noexcept {
  if (monitor_ != nullptr) monitor_->needed();
}

}  // namespace goro::detail

#endif
