// sync.hpp: goroutine-aware synchronisation, like Go's package sync.
//
// Each primitive parks a waiting goroutine (its worker runs others) and blocks
// a waiting plain thread; neither ever blocks a worker thread. They can be
// shared freely between goroutines and threads.
#ifndef GORO_SYNC_HPP
#define GORO_SYNC_HPP

#include "config.hpp"
#include "detail/chan_core.hpp"
#include "detail/done_watch.hpp"
#include "detail/spin_lock.hpp"
#include "detail/wait/wait.hpp"
#include "detail/wait/waiter.hpp"

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace goro {

class context;

namespace detail {

/// A counting semaphore that hands a released permit straight to the first
/// waiter (FIFO, no barging), after Go's runtime semaphore.
///
/// One atomic word holds both the free permits (high 32 bits) and the number
/// of waiters queued (low 32 bits), so that each operation's last touch of the
/// object is a single atomic step. That is what lets a goro::mutex be
/// destroyed as soon as another party has unlocked it, as std::mutex allows:
/// - release() with nobody waiting publishes the permit with one CAS and
///   returns; with waiters it takes the lock, hands the permit to the first
///   waiter without ever publishing it, unlocks, and wakes the waiter (which
///   lives on its own stack) — the unlock is its last touch of *this.
/// - a waiter registers (waiters + 1) under the lock before it re-checks the
///   permits, so a release either sees it registered or leaves a permit it sees.
class handoff_semaphore {
 public:
  explicit handoff_semaphore(std::int64_t permits) noexcept
      : state_(static_cast<std::uint64_t>(permits) << 32) {}

  bool try_acquire() noexcept {
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    while (permits(s) > 0) {
      if (state_.compare_exchange_weak(s, s - one_permit, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  /// Takes a permit, waiting for one; `reason` is what a goroutine dump shows.
  void acquire(detail::wait_reason reason = detail::wait_reason::semacquire) {
    if (try_acquire()) return;
    waiting_party party;
    waiter w;
    party.init(w);
    lock_.lock();
    std::uint64_t s = state_.fetch_add(1, std::memory_order_seq_cst) + 1;  // registered
    while (permits(s) > 0) {  // a permit came meanwhile: take it and unregister
      if (state_.compare_exchange_weak(s, s - one_permit - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        lock_.unlock();
        return;
      }
    }
    waiters_.push_back(&w);
    block(w, &spin_lock::unlock_fn, &lock_, reason);
    // Woken by release(), which handed its permit to us.
  }

  /// acquire(), unless the channel `done` (a context's; nullptr: none) is
  /// closed first. Returns whether it acquired a permit. A waiter ended by
  /// the close stays queued and counted until it resumes and takes itself
  /// out; release() skips it meanwhile (see there).
  bool acquire_or_done(chan_core* done) {
    if (try_acquire()) return true;
    if (done == nullptr) {
      acquire();
      return true;
    }
    waiting_party party;
    waiter w;
    party.init(w, 0);
    done_watch watch(done);
    lock_.lock();
    std::uint64_t s = state_.fetch_add(1, std::memory_order_seq_cst) + 1;  // registered
    while (permits(s) > 0) {
      if (state_.compare_exchange_weak(s, s - one_permit - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        lock_.unlock();
        return true;
      }
    }
    // True: release() handed us its permit.
    return block_counted_or_done(watch, party, w, lock_, waiters_, state_);
  }

  /// Returns the free permits right after this release (0 when it went to a
  /// waiter).
  std::int64_t release() {
    for (;;) {
      std::uint64_t s = state_.load(std::memory_order_relaxed);
      while (waiters(s) == 0) {
        if (state_.compare_exchange_weak(s, s + one_permit, std::memory_order_seq_cst,
                                         std::memory_order_relaxed)) {
          return permits(s) + 1;  // the CAS was our last touch of *this
        }
      }
      lock_.lock();
      if (waiters(state_.load(std::memory_order_seq_cst)) != 0) {
        if (waiter* w = waiters_.claim_first()) {
          state_.fetch_sub(1, std::memory_order_relaxed);  // unregistered; permit handed over
          lock_.unlock();  // last touch of *this: w lives on its waiter's stack
          wake(*w);
          return 0;
        }
        // Every queued waiter was ended by its context and has not yet taken
        // itself out (it needs this lock): nobody to hand to, so publish.
        const std::uint64_t before = state_.fetch_add(one_permit, std::memory_order_seq_cst);
        lock_.unlock();
        return permits(before) + 1;
      }
      lock_.unlock();  // the waiter took a published permit meanwhile; publish ours
    }
  }

 private:
  static constexpr std::uint64_t one_permit = std::uint64_t{1} << 32;
  static std::int64_t permits(std::uint64_t s) noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(s >> 32));
  }
  static std::uint32_t waiters(std::uint64_t s) noexcept { return static_cast<std::uint32_t>(s); }

  std::atomic<std::uint64_t> state_;  ///< permits << 32 | waiters queued
  spin_lock lock_;                    ///< guards waiters_ and registration
  wait_queue waiters_;
};

}  // namespace detail

/// A mutual-exclusion lock like Go's sync.Mutex; meets the standard Lockable
/// requirements, so std::lock_guard and std::unique_lock work. Not recursive.
/// Unlocking a mutex that is not locked is a fatal error, as in Go.
class mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  /// Blocks (parks a goroutine) until the lock is free, then takes it.
  void lock() { sem_.acquire(detail::wait_reason::mutex_lock); }
  /// lock(), unless ctx is done first: then throws goro::context_error and
  /// does not hold the lock. Needs goro/context.hpp.
  void lock(const context& ctx);
  /// Takes the lock if it is free; never blocks.
  bool try_lock() noexcept { return sem_.try_acquire(); }
  /// Releases the lock; the longest waiter, if any, gets it next.
  void unlock() {
    if (sem_.release() > 1) detail::fatal("sync: unlock of unlocked goro::mutex");
  }

 private:
  detail::handoff_semaphore sem_{1};
};

/// A counting semaphore of `permits` permits, like a buffered channel used as
/// a semaphore in Go (or golang.org/x/sync/semaphore with weight 1).
class semaphore {
 public:
  /// Throws std::invalid_argument unless 0 <= permits <= 2^31 - 1 (without
  /// exceptions: a fatal error with its message).
  explicit semaphore(std::ptrdiff_t permits) : sem_(check(permits)) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Takes a permit, blocking (parking a goroutine) until one is free.
  void acquire() { sem_.acquire(); }
  /// acquire(), unless ctx is done first: then throws goro::context_error
  /// and takes no permit. Needs goro/context.hpp.
  void acquire(const context& ctx);
  /// Takes a permit if one is free; never blocks.
  bool try_acquire() noexcept { return sem_.try_acquire(); }
  /// Returns a permit; the longest waiter, if any, gets it.
  void release() { sem_.release(); }

 private:
  static std::ptrdiff_t check(std::ptrdiff_t permits) {
    if (permits < 0 || permits > INT32_MAX) {
      detail::throw_error(std::invalid_argument("goro::semaphore: permit count out of range"));
    }
    return permits;
  }
  detail::handoff_semaphore sem_;
};

/// Waits for a collection of goroutines to finish, like Go's sync.WaitGroup.
///
/// Every wait() that finds the counter above zero returns once it falls to
/// zero. A counter driven below zero, or above 2^31 - 1, is a misuse: add()
/// throws std::logic_error and leaves the counter as it was (Go panics here;
/// without exceptions it is a fatal error with the same message). As in
/// Go, the wait_group may be destroyed as soon as wait() has returned.
class wait_group {
 public:
  wait_group() noexcept = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  /// Adds delta (which may be negative) to the counter; at zero, releases
  /// every waiter.
  void add(std::int64_t delta) {
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    std::int64_t after = 0;
    do {
      after = counter(s) + delta;
      if (after < 0) detail::throw_error(std::logic_error("goro::wait_group: negative counter"));
      if (after > INT32_MAX)
        detail::throw_error(std::logic_error("goro::wait_group: counter overflow"));
    } while (!state_.compare_exchange_weak(s,
                                           (static_cast<std::uint64_t>(after) << 32) | waiters(s),
                                           std::memory_order_acq_rel, std::memory_order_relaxed));
    // With nobody waiting, that CAS was the last touch of *this: a wait() may
    // now return and the owner destroy us. With waiters queued, none can
    // return before we wake it, after our last touch (the unlock).
    if (after == 0 && waiters(s) != 0) release_all();
  }

  /// add(-1).
  void done() { add(-1); }

  /// Blocks (parks a goroutine) until the counter is zero.
  void wait() {
    if (counter(state_.load(std::memory_order_acquire)) == 0) return;
    detail::waiting_party party;
    detail::waiter w;
    party.init(w);
    lock_.lock();
    // Registered before the re-check: an add() reaching zero after this sees
    // us and comes for the lock; one that reached zero before, we see.
    const std::uint64_t s = state_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (counter(s) == 0) {
      state_.fetch_sub(1, std::memory_order_relaxed);
      lock_.unlock();
      return;
    }
    waiters_.push_back(&w);
    detail::block(w, &detail::spin_lock::unlock_fn, &lock_, detail::wait_reason::wait_group_wait);
  }

  /// wait(), unless ctx is done first: then throws goro::context_error.
  /// Needs goro/context.hpp.
  void wait(const context& ctx);

  /// The counter now (for tests and diagnostics).
  std::int64_t count() const noexcept { return counter(state_.load(std::memory_order_acquire)); }

 private:
  static std::int64_t counter(std::uint64_t s) noexcept {
    return static_cast<std::int64_t>(s >> 32);
  }
  static std::uint32_t waiters(std::uint64_t s) noexcept { return static_cast<std::uint32_t>(s); }

  /// wait(), unless the channel `done` (nullptr: none) is closed first.
  /// Returns whether the counter reached zero. A waiter ended by the close
  /// stays queued and counted until it takes itself out; release_all()
  /// leaves it alone meanwhile.
  bool wait_or_done(detail::chan_core* done) {
    if (counter(state_.load(std::memory_order_acquire)) == 0) return true;
    if (done == nullptr) {
      wait();
      return true;
    }
    detail::waiting_party party;
    detail::waiter w;
    party.init(w, 0);
    detail::done_watch watch(done);
    lock_.lock();
    const std::uint64_t s = state_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (counter(s) == 0) {
      state_.fetch_sub(1, std::memory_order_relaxed);
      lock_.unlock();
      return true;
    }
    return detail::block_counted_or_done(watch, party, w, lock_, waiters_, state_);
  }

  void release_all() {
    detail::wait_queue woken;
    lock_.lock();
    const auto n = static_cast<std::uint32_t>(waiters_.claim_all_into(woken));
    state_.fetch_sub(n, std::memory_order_relaxed);
    lock_.unlock();  // last touch of *this; the waiters live on their own stacks
    detail::wake_all(woken);
  }

  std::atomic<std::uint64_t> state_{0};  ///< counter << 32 | waiters queued
  detail::spin_lock lock_;               ///< guards waiters_ and registration
  detail::wait_queue waiters_;
};

/// A flag for call_once, like Go's sync.Once.
class once_flag {
 public:
  once_flag() noexcept = default;
  once_flag(const once_flag&) = delete;
  once_flag& operator=(const once_flag&) = delete;

 private:
  template <class F, class... Args>
  friend void call_once(once_flag& flag, F&& f, Args&&... args);
  std::atomic<bool> done_{false};
  mutex mutex_;
};

/// Calls f(args...) unless a call through the same flag has completed; others
/// arriving meanwhile wait (parking goroutines) until it has. If f throws, the
/// exception propagates and the flag stays unset, as with std::call_once.
template <class F, class... Args>
void call_once(once_flag& flag, F&& f, Args&&... args) {
  if (flag.done_.load(std::memory_order_acquire)) return;
  std::lock_guard<mutex> guard(flag.mutex_);
  if (flag.done_.load(std::memory_order_relaxed)) return;
  std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
  flag.done_.store(true, std::memory_order_release);
}

}  // namespace goro

#endif
