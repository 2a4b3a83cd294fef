// sync.hpp: goroutine-aware synchronisation, like Go's package sync.
//
// Each primitive parks a waiting goroutine (its worker runs others) and blocks
// a waiting plain thread; neither ever blocks a worker thread. They can be
// shared freely between goroutines and threads.
#ifndef GORO_SYNC_HPP
#define GORO_SYNC_HPP

#include "config.hpp"
#include "detail/park.hpp"
#include "detail/spin_lock.hpp"
#include "detail/waiter.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace goro {

namespace detail {

/// A counting semaphore that hands a released permit straight to the first
/// waiter (FIFO, no barging), after Go's runtime semaphore.
///
/// `count` is the free permits. The lock-free fast paths are safe because a
/// waiter announces itself (nwait++) under the lock *before* re-checking
/// `count`, and a releaser adds to `count` *before* reading `nwait`; with
/// sequential consistency one of them sees the other, so a release never
/// slips past a waiter that is about to sleep.
class handoff_semaphore {
 public:
  explicit handoff_semaphore(std::int64_t permits) noexcept : count_(permits) {}

  bool try_acquire() noexcept {
    std::int64_t c = count_.load(std::memory_order_relaxed);
    while (c > 0) {
      if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  void acquire() {
    if (try_acquire()) return;
    waiting_party party;
    waiter w;
    party.init(w);
    lock_.lock();
    nwait_.fetch_add(1, std::memory_order_seq_cst);
    if (try_acquire()) {
      nwait_.fetch_sub(1, std::memory_order_relaxed);
      lock_.unlock();
      return;
    }
    waiters_.push_back(&w);
    block(w, &spin_lock::unlock_fn, &lock_);
    // Woken by release(), which took a permit on our behalf.
  }

  /// Returns the count of free permits after the release (before any hand-off).
  std::int64_t release() {
    const std::int64_t after = count_.fetch_add(1, std::memory_order_seq_cst) + 1;
    if (nwait_.load(std::memory_order_seq_cst) == 0) return after;
    waiter* w = nullptr;
    {
      std::lock_guard<spin_lock> guard(lock_);
      if (!waiters_.empty() && try_acquire()) {
        w = waiters_.claim_first();
        nwait_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    if (w != nullptr) wake(*w);
    return after;
  }

 private:
  std::atomic<std::int64_t> count_;
  std::atomic<std::int64_t> nwait_{0};
  spin_lock lock_;      ///< guards waiters_
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
  void lock() { sem_.acquire(); }
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
  explicit semaphore(std::ptrdiff_t permits) : sem_(check(permits)) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Takes a permit, blocking (parking a goroutine) until one is free.
  void acquire() { sem_.acquire(); }
  /// Takes a permit if one is free; never blocks.
  bool try_acquire() noexcept { return sem_.try_acquire(); }
  /// Returns a permit; the longest waiter, if any, gets it.
  void release() { sem_.release(); }

 private:
  static std::ptrdiff_t check(std::ptrdiff_t permits) {
    if (permits < 0) throw std::invalid_argument("goro::semaphore: negative permit count");
    return permits;
  }
  detail::handoff_semaphore sem_;
};

/// Waits for a collection of goroutines to finish, like Go's sync.WaitGroup.
///
/// Every wait() that finds the counter above zero returns once it falls to
/// zero. A counter driven below zero is a misuse: add() throws
/// std::logic_error and leaves the counter as it was (Go panics here).
class wait_group {
 public:
  wait_group() noexcept = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  /// Adds delta (which may be negative) to the counter; at zero, releases
  /// every waiter.
  void add(std::int64_t delta) {
    std::int64_t c = count_.load(std::memory_order_relaxed);
    do {
      if (c + delta < 0) throw std::logic_error("goro::wait_group: negative counter");
    } while (!count_.compare_exchange_weak(c, c + delta, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
    if (c + delta == 0 && delta != 0) release_all();
  }

  /// add(-1).
  void done() { add(-1); }

  /// Blocks (parks a goroutine) until the counter is zero.
  void wait() {
    if (count_.load(std::memory_order_acquire) == 0) return;
    detail::waiting_party party;
    detail::waiter w;
    party.init(w);
    lock_.lock();
    // Re-checked under the lock: release_all takes it after the counter hits
    // zero, so either we see zero here or it sees our waiter.
    if (count_.load(std::memory_order_acquire) == 0) {
      lock_.unlock();
      return;
    }
    waiters_.push_back(&w);
    detail::block(w, &detail::spin_lock::unlock_fn, &lock_);
  }

  /// The counter now (for tests and diagnostics).
  std::int64_t count() const noexcept { return count_.load(std::memory_order_acquire); }

 private:
  void release_all() {
    detail::wait_queue woken;
    {
      std::lock_guard<detail::spin_lock> guard(lock_);
      while (detail::waiter* w = waiters_.claim_first()) woken.push_back(w);
    }
    while (detail::waiter* w = woken.pop_front()) detail::wake(*w);
  }

  std::atomic<std::int64_t> count_{0};
  detail::spin_lock lock_;   ///< guards waiters_
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
