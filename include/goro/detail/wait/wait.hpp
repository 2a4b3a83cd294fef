// wait/wait.hpp: the wait layer: waiting and waking, the same way for
// goroutines and threads, for channels, select, sync, timers and fd waits.
//
// The layer is this folder: the waiter and its queue (waiter.hpp), why a
// goroutine waits (reason.hpp), and here the operations: park() switches a
// goroutine out for good until it is readied, wake() readies a goroutine or
// unparks a thread, block() waits as the caller is (a goroutine parks and
// its worker runs other goroutines, a plain thread sleeps on a parker),
// block_until() does the same with a deadline (a timer on the runtime's
// heap claims the wait), note_wait() records the wait for dumps. Following a
// value from a send to its receiver touches chan_core.hpp and this layer.
//
// The park protocol: the caller has queued a waiter for itself under some
// lock and passes that lock's unlock function; the lock is released only
// once the caller can safely be woken (for a goroutine, once it is off its
// stack: scheduler.hpp, "park with an unlock function").
//
// Layering: the scheduler schedules (queues, workers, switching) and knows
// of waiting only what it must: the waiter's queue type, and wake()/
// wake_all() declared in waiter.hpp, because it wakes wait_all()'s and the
// netpoller's waiters itself. Everything here is defined after the
// scheduler's classes are complete, so include this file, not the parts.
#ifndef GORO_DETAIL_WAIT_WAIT_HPP
#define GORO_DETAIL_WAIT_WAIT_HPP

#include "../../config.hpp"
#include "../scheduler.hpp"
#include "../spin_lock.hpp"
#include "../timer_heap.hpp"
#include "reason.hpp"
#include "waiter.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace goro::detail {

/// Parks the running goroutine: once it is off its stack, its worker calls
/// unlock(arg) (typically releasing the lock under which the caller queued a
/// waiter for itself). Returns after someone calls scheduler::ready on it.
/// The form for a caller that has read its worker and goroutine since its
/// last switch: g runs on worker w (w is stale once this returns).
inline void park(worker& w, goroutine* g, void (*unlock)(void*), void* arg) noexcept {
  w.park_unlock = unlock;
  w.park_unlock_arg = arg;
  switch_out(w, g, g_request::park);
}
inline void park(void (*unlock)(void*), void* arg) noexcept {
  // Only a goroutine parks, so this thread is a worker (no null check).
  worker* w = current_worker_slot();
  park(*w, w->current.load(std::memory_order_relaxed), unlock, arg);
}

// wake() and wake_all() are declared, with their contracts, in waiter.hpp.
inline void wake(waiter& w) {
  if (w.g != nullptr) {
    w.g->sched->ready(w.g);
  } else {
    // The thread no longer counts as blocked from the moment it is woken,
    // before it runs (see census::threads_parked).
    if (w.parked_untimed) process_census().threads_parked.fetch_sub(1, std::memory_order_relaxed);
    w.thread->unpark();
  }
}

inline void wake_all(wait_queue& q) {
  while (waiter* w = q.pop_front()) wake(*w);
}

/// A waiter for the calling party, with its parker (used only by threads)
/// and claim word next to it. Lives on the caller's stack for one wait.
struct waiting_party {
  parker thread_parker;
  std::atomic<std::uint32_t> claim{claim_none};

  /// Fills in w for the calling goroutine or thread, as case `index`.
  void init(waiter& w, std::uint32_t index = 0) noexcept {
    w.g = current_goroutine();
    w.thread = w.g == nullptr ? &thread_parker : nullptr;
    w.claim = &claim;
    w.case_index = index;
  }

  /// What won: claim_timeout or claim_case_base + case index.
  std::uint32_t outcome() const noexcept { return claim.load(std::memory_order_acquire); }
};

/// The monitor's coarse clock in nanoseconds (monitor.hpp): what a parking
/// goroutine records as the start of its wait, without reading the clock.
inline std::atomic<std::int64_t>& coarse_now_ns() noexcept {
  static std::atomic<std::int64_t> now{0};
  return now;
}

/// Records on the parking goroutine g why it waits, for dumps.
inline void note_wait(goroutine* g, wait_reason reason, const void* object,
                      std::size_t capacity) noexcept {
  g->reason.store(reason, std::memory_order_relaxed);
  g->wait_object.store(object, std::memory_order_relaxed);
  g->wait_capacity.store(capacity > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(capacity),
                         std::memory_order_relaxed);
  g->wait_since.store(coarse_now_ns().load(std::memory_order_relaxed), std::memory_order_relaxed);
}

/// Waits until something claims the caller's wait and wakes it. `reason`,
/// `object` (the channel waited on, if any) and its capacity are what a
/// goroutine dump shows; the object is never dereferenced. Precondition:
/// the caller queued `w` under a lock that unlock(arg) releases.
inline void block(waiter& w, void (*unlock)(void*), void* arg,
                  wait_reason reason = wait_reason::other, const void* object = nullptr,
                  std::size_t capacity = 0) {
  if (w.g != nullptr) {
    note_wait(w.g, reason, object, capacity);
    park(unlock, arg);
  } else {
    // Counted before the unlock, so before anyone can claim and wake us
    // (wake() uncounts us).
    w.parked_untimed = true;
    process_census().threads_parked.fetch_add(1, std::memory_order_relaxed);
    unlock(arg);
    w.thread->park();
  }
}

/// A timer that claims a waiter's wait as timed out and wakes its party.
struct timeout_timer {
  timer_node node;
  waiter* w = nullptr;
  /// Set by the fire function once it will no longer touch this object.
  std::atomic<bool> fired{false};
  void (*unlock)(void*) = nullptr;
  void* unlock_arg = nullptr;

  static void fire(timer_node* n) {
    auto* t = static_cast<timeout_timer*>(n->arg);
    waiter* w = t->w;
    if (w->try_claim_as(claim_timeout)) {
      t->fired.store(true, std::memory_order_release);
      wake(*w);  // the party will not wait for `fired`: it already is
    } else {
      t->fired.store(true, std::memory_order_release);
    }
  }

  // Runs on the worker after the goroutine parked: arm, then release the lock.
  // Once armed, the timer may fire on another worker and the goroutine may
  // resume and return, popping `t`: read everything needed before arming.
  static void arm_then_unlock(void* self) {
    auto* t = static_cast<timeout_timer*>(self);
    scheduler* s = t->w->g->sched;
    void (*unlock)(void*) = t->unlock;
    void* unlock_arg = t->unlock_arg;
    const bool earliest = s->timers().add(&t->node);
    s->timer_added(earliest);
    unlock(unlock_arg);
  }
};

/// The unlock function of a wait that queued its waiter nowhere.
inline void no_lock(void*) noexcept {}

/// Like block(), but gives up at `deadline`: the wait is then claimed as
/// claim_timeout (unless something else won first). Returns the outcome.
/// The lock behind unlock(arg) must outlive the caller's resumption (an
/// object's lock, never one on the caller's stack): a goroutine's timer is
/// armed before the lock is released, and may fire and resume it first.
/// After it returns, nothing refers to the caller's timer any more.
inline std::uint32_t block_until(waiting_party& party, waiter& w, void (*unlock)(void*), void* arg,
                                 steady_clock::time_point deadline,
                                 wait_reason reason = wait_reason::other,
                                 const void* object = nullptr, std::size_t capacity = 0) {
  if (w.g == nullptr) {
    unlock(arg);
    if (!w.thread->park_until(deadline)) {
      if (w.try_claim_as(claim_timeout)) return claim_timeout;
      w.thread->park();  // lost the race: the winner's wake-up is on its way
    }
    return party.outcome();
  }
  timeout_timer t;
  t.node.when = deadline;
  t.node.fire = &timeout_timer::fire;
  t.node.arg = &t;
  t.w = &w;
  t.unlock = unlock;
  t.unlock_arg = arg;
  note_wait(w.g, reason, object, capacity);
  park(&timeout_timer::arm_then_unlock, &t);
  const std::uint32_t outcome = party.outcome();
  if (outcome != claim_timeout && !w.g->sched->timers().remove(&t.node)) {
    // The timer was taken out to fire and lost the claim; wait until its fire
    // function is done with `t` before `t` goes out of scope.
    while (!t.fired.load(std::memory_order_acquire)) cpu_relax();
  }
  return outcome;
}

/// Waits with nothing that can end the wait but the deadline: a sleep, or an
/// operation on a nil channel. A goroutine parks on the timer heap; a thread
/// sleeps on its parker.
inline void wait_until(steady_clock::time_point deadline, wait_reason reason = wait_reason::sleep) {
  waiting_party party;
  waiter w;
  party.init(w);
  block_until(party, w, &no_lock, nullptr, deadline, reason);  // no queue, so no lock
}

/// Waits forever (Go's `select {}`, a receive on a nil channel).
[[noreturn]] inline void wait_forever(wait_reason reason = wait_reason::select_no_cases) {
  waiting_party party;
  waiter w;
  party.init(w);
  block(w, &no_lock, nullptr, reason);  // nobody will claim it
  fatal("a wait that nothing can end has ended");
}

inline void scheduler::wait_all() {
  if (live_.load(std::memory_order_acquire) == 0) return;
  if (worker* w = current_worker_slot(); w != nullptr && &w->sched == this && w->current) {
    fatal("goro::runtime::wait() called from one of its own goroutines (it would wait for itself)");
  }
  waiting_party party;
  waiter w;
  party.init(w);
  done_lock_.lock();
  if (live_.load(std::memory_order_acquire) == 0) {
    done_lock_.unlock();
    return;
  }
  done_waiters_.push_back(&w);
  block(w, &spin_lock::unlock_fn, &done_lock_, wait_reason::runtime_wait);
}

}  // namespace goro::detail

#endif
