// spare_workers.hpp: extra worker threads for when every worker is stuck.
//
// A worker is stuck when its goroutine has not switched for a while: a long
// computation with no preemption point, or a blocking call made outside
// goro::blocking (::sleep, a blocking read). Go hands the P of a thread
// blocked in a system call to another thread; goro cannot take a worker's
// queues away from it, so the monitor (monitor.hpp) starts a spare worker
// instead when every worker has been stuck for `monitor::stuck_after` while
// goroutines wait, timers are due or the netpoller readied someone.
//
// A spare is a `worker` object with a thread of its own that runs the same
// loop as a worker minus the idle list: its due timers, its runnext and local
// queue, the global queue, the netpoller without blocking, then the local
// queues and runnext slots of the workers and of the other spares (as a
// thief does). It never sleeps on the idle list and nobody wakes it: with
// nothing to run for `linger` it retires. It also retires, after the
// goroutine it runs, when the monitor asks (a worker switched again) or the
// runtime stops. A retiring spare moves whatever is left in its runnext and
// local queue to the global queue, so nothing is stranded on a thread that is
// about to exit.
//
// Invariants:
// * A goroutine runs on one thread at a time: a spare takes goroutines only
//   from run queues (pop, steal_half_into, runnext's steal), exactly as
//   thieves do, never from a worker's `current`.
// * Only a spare's own thread pushes to its queues; after hand_back nothing
//   does (the thread is leaving), so the queues are empty while the slot is
//   not running and other spares may steal from them at any time.
// * The worker objects of the slots live as long as the monitor; the
//   threads are started and joined by the monitor thread only (and by stop(),
//   after the monitor thread has ended).
// * runtime::workers() and the scheduler's fair shares count workers only; a
//   spare is extra, and the process has that many more threads while it runs
//   (counted in process_census().goro_threads for deadlock detection).
//
// Threads are started with pthread_create so that a refusal (EAGAIN) is an
// error code, not an exception: the monitor counts it and tries again later.
#ifndef GORO_DETAIL_SPARE_WORKERS_HPP
#define GORO_DETAIL_SPARE_WORKERS_HPP

#include "../config.hpp"
#include "fault_injection.hpp"
#include "scheduler.hpp"
#include "wait/reason.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace goro::detail {

class spare_workers;

/// One spare: its worker object for good, its thread while it runs.
struct spare_slot {
  spare_slot(spare_workers& o, scheduler& s, std::size_t index) : owner(o), w(s, index) {}
  spare_workers& owner;
  worker w;
  pthread_t thread{};
  bool running = false;             ///< started and not yet joined; the monitor's own
  std::atomic<bool> retire{false};  ///< monitor sets: leave after the current goroutine
  std::atomic<bool> exited{false};  ///< the thread has left its loop and may be joined
};

extern "C" inline void* goro_spare_worker_entry(void* arg);

/// The spare workers of one runtime. See the file comment.
class spare_workers {
 public:
  /// How long a spare with nothing to run waits for work before it retires.
  static constexpr auto linger = std::chrono::milliseconds(1);

  spare_workers(scheduler& s, std::size_t max) : sched_(s) {
    slots_.reserve(max);
    for (std::size_t i = 0; i < max; ++i) {
      slots_.push_back(std::make_unique<spare_slot>(*this, s, s.workers_.size() + i));
    }
  }
  spare_workers(const spare_workers&) = delete;
  spare_workers& operator=(const spare_workers&) = delete;
  ~spare_workers() { stop(); }

  /// Most spares running at once (runtime_options::spare_workers).
  std::size_t capacity() const noexcept { return slots_.size(); }
  /// Spares started and not yet joined (any thread).
  std::size_t running() const noexcept { return running_.load(std::memory_order_seq_cst); }
  /// Spares started since the runtime began (any thread).
  std::uint64_t started() const noexcept { return started_.load(std::memory_order_relaxed); }
  /// Thread starts the system refused (any thread).
  std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

  spare_slot& slot(std::size_t i) noexcept { return *slots_[i]; }

  /// Starts a spare in a free slot. Returns its index, or -1 when all are
  /// running or the system refused a thread. Monitor thread only.
  long start_one() noexcept {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      spare_slot& s = *slots_[i];
      if (s.running) continue;
      s.retire.store(false, std::memory_order_relaxed);
      s.exited.store(false, std::memory_order_relaxed);
      process_census().goro_threads.fetch_add(1, std::memory_order_seq_cst);
      if (GORO_FAULT(thread_start) ||
          pthread_create(&s.thread, nullptr, &goro_spare_worker_entry, &s) != 0) {
        process_census().goro_threads.fetch_sub(1, std::memory_order_seq_cst);
        refused_.fetch_add(1, std::memory_order_relaxed);
        return -1;
      }
      s.running = true;
      running_.fetch_add(1, std::memory_order_seq_cst);
      started_.fetch_add(1, std::memory_order_relaxed);
      return static_cast<long>(i);
    }
    return -1;
  }

  /// Joins the spares that retired. Monitor thread only.
  void reap() noexcept {
    for (auto& s : slots_) {
      if (s->running && s->exited.load(std::memory_order_acquire)) join(*s);
    }
  }

  /// Asks every running spare to retire after its current goroutine.
  void retire_all() noexcept {
    for (auto& s : slots_) {
      if (s->running) s->retire.store(true, std::memory_order_release);
    }
  }

  /// Retires and joins them all: the monitor thread has ended. A spare whose
  /// goroutine is stuck is waited for, as a worker is.
  void stop() noexcept {
    retire_all();
    for (auto& s : slots_) {
      if (s->running) join(*s);
    }
  }

 private:
  friend void* goro_spare_worker_entry(void* arg);

  void join(spare_slot& s) noexcept {
    pthread_join(s.thread, nullptr);
    s.running = false;
    running_.fetch_sub(1, std::memory_order_seq_cst);
    process_census().goro_threads.fetch_sub(1, std::memory_order_seq_cst);
  }

  void run(spare_slot& s);
  goroutine* steal(worker& self);
  void hand_back(worker& w);

  scheduler& sched_;
  std::vector<std::unique_ptr<spare_slot>> slots_;
  std::atomic<std::size_t> running_{0};
  std::atomic<std::uint64_t> started_{0};
  std::atomic<std::uint64_t> refused_{0};
};

extern "C" inline void* goro_spare_worker_entry(void* arg) {
  auto* s = static_cast<spare_slot*>(arg);
  run_own_thread("spare worker", [s] { s->owner.run(*s); });
  return nullptr;
}

inline void spare_workers::run(spare_slot& s) {
  worker& w = s.w;
  current_worker_slot() = &w;
  context self;  // this thread's own execution: the spare's g0
  w.g0 = &self;
  w.slots = current_thread_switch_slots();
  auto idle_since = steady_clock::time_point::max();
  while (!s.retire.load(std::memory_order_acquire) &&
         !sched_.stopping_.load(std::memory_order_acquire)) {
    w.run_due_timers();
    goroutine* g = w.try_local_and_global();
    if (g == nullptr && w.poll_network(0)) continue;
    if (g == nullptr) g = steal(w);
    if (g != nullptr) {
      idle_since = steady_clock::time_point::max();
      w.execute(g);
      continue;
    }
    const auto now = steady_clock::now();
    if (idle_since == steady_clock::time_point::max()) idle_since = now;
    if (now - idle_since >= linger) break;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  hand_back(w);
  current_worker_slot() = nullptr;
  w.g0 = nullptr;
  s.exited.store(true, std::memory_order_release);
}

inline goroutine* spare_workers::steal(worker& self) {
  for (auto& v : sched_.workers_) {
    if (goroutine* g = v->local.steal_half_into(self.local)) return g;
  }
  for (auto& v : slots_) {
    if (&v->w == &self) continue;
    if (goroutine* g = v->w.local.steal_half_into(self.local)) return g;
  }
  // runnext last: its owner will probably run it itself (steal_runnext gives
  // a running owner a few microseconds).
  for (auto& v : sched_.workers_) {
    if (goroutine* g = self.steal_runnext(*v)) return g;
  }
  for (auto& v : slots_) {
    if (&v->w == &self) continue;
    if (goroutine* g = self.steal_runnext(v->w)) return g;
  }
  return nullptr;
}

inline void spare_workers::hand_back(worker& w) {
  goroutine* batch[run_queue::capacity + 1];
  std::size_t n = 0;
  if (goroutine* g = w.runnext.take()) batch[n++] = g;  // a spare owns w
  while (n < run_queue::capacity + 1) {
    goroutine* g = w.local.pop();
    if (g == nullptr) break;
    batch[n++] = g;
  }
  if (n == 0) return;
  sched_.global_push(batch, n);
  sched_.wake_if_needed();
}

}  // namespace goro::detail

#endif
