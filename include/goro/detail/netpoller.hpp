// netpoller.hpp: one runtime's view of fd readiness (Go's netpoll).
//
// A runtime makes its netpoller the first time one of its goroutines waits on
// an fd. The poller owns a backend (epoll on Linux) and knows which poll
// descriptors it watches ("bound" descriptors) and how many goroutines are
// parked on them (`waiting`). The scheduler polls it:
//   - an idle worker, when goroutines wait on fds, blocks in the backend with
//     the timeout of the next timer instead of sleeping on its parker; only
//     one worker at a time does (`polling` is the right to poll), the others
//     sleep as before; work for the poller's worker arrives as an interrupt;
//   - busy workers look without blocking now and then, so that I/O is served
//     while every worker is busy.
// Delivering an event claims the goroutines waiting for that direction and
// hands them back to the caller, who readies them once no lock is held.
//
// Invariant (every change under the descriptor's lock):
//   waiting == the sum, over descriptors bound here, of their linked waiters.
// Binding a descriptor adds its linked waiters to the count and unbinding
// takes them off, so a waiter that leaves on its own (timed out) takes itself
// off the count of whichever poller the descriptor is bound to then, if any.
#ifndef GORO_DETAIL_NETPOLLER_HPP
#define GORO_DETAIL_NETPOLLER_HPP

#include "../config.hpp"
#include "parker.hpp"
#include "poll_backend_epoll.hpp"
#include "poll_desc.hpp"
#include "spin_lock.hpp"
#include "wait/waiter.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace goro::detail {

class scheduler;

class netpoller {
 public:
  /// Opens the backend; throws std::system_error when it cannot.
  explicit netpoller(scheduler& s) : sched(s) {}
  netpoller(const netpoller&) = delete;
  netpoller& operator=(const netpoller&) = delete;

  scheduler& sched;      ///< the runtime whose workers poll this
  poll_backend backend;  ///< the kernel's side
  /// Goroutines parked on descriptors bound here (see the invariant above).
  std::atomic<std::int64_t> waiting{0};
  /// Whether goroutines wait: only then is polling worth a system call.
  bool has_waiters() const noexcept { return waiting.load(std::memory_order_seq_cst) > 0; }

  /// Takes the right to poll; false if another worker has it.
  bool try_acquire() noexcept {
    return !polling_.load(std::memory_order_relaxed) &&
           !polling_.exchange(true, std::memory_order_acquire);
  }
  void release() noexcept { polling_.store(false, std::memory_order_release); }

  /// Polls started so far: the monitor polls itself when this has not moved
  /// for a while (monitor.hpp). Written only by the holder of the right to poll.
  std::uint64_t polls() const noexcept { return polls_.load(std::memory_order_relaxed); }

  /// Watches pd's fd for its current generation and lists pd as bound; its
  /// linked waiters (timed-out ones not yet gone) count here from now on.
  /// Holds pd's lock; pd is unbound. Returns 0 or the backend's errno (pd
  /// stays unbound then).
  int bind_locked(poll_desc& pd) noexcept {
    GORO_ASSERT(pd.poller == nullptr);
    if (const int err = backend.watch(pd.fd, pd.tag()); err != 0) return err;
    {
      std::lock_guard<spin_lock> guard(list_lock_);
      pd.bound_prev = nullptr;
      pd.bound_next = bound_head_;
      if (bound_head_ != nullptr) bound_head_->bound_prev = &pd;
      bound_head_ = &pd;
    }
    const auto linked = static_cast<std::int64_t>(pd.dir[0].n_waiters + pd.dir[1].n_waiters);
    if (linked != 0) waiting.fetch_add(linked, std::memory_order_seq_cst);
    pd.poller = this;
    return 0;
  }

  /// Forgets pd (bound here): unlisted, its waiters no longer counted, and,
  /// when `unwatch`, no longer watched (skip that when the fd number may
  /// already name another file). Holds pd's lock.
  void unbind_locked(poll_desc& pd, bool unwatch) noexcept {
    GORO_ASSERT(pd.poller == this);
    if (unwatch) backend.unwatch(pd.fd);
    {
      std::lock_guard<spin_lock> guard(list_lock_);
      if (pd.bound_prev != nullptr) {
        pd.bound_prev->bound_next = pd.bound_next;
      } else {
        bound_head_ = pd.bound_next;
      }
      if (pd.bound_next != nullptr) pd.bound_next->bound_prev = pd.bound_prev;
      pd.bound_prev = pd.bound_next = nullptr;
    }
    const auto linked = static_cast<std::int64_t>(pd.dir[0].n_waiters + pd.dir[1].n_waiters);
    if (linked != 0) waiting.fetch_sub(linked, std::memory_order_seq_cst);
    pd.poller = nullptr;
  }

  /// Unbinds every descriptor (the runtime is going away); goroutines of
  /// other runtimes parked on them are claimed into `woken` to look again
  /// (they will bind to their own runtime's poller). Call with no worker left.
  void unbind_all(wait_queue& woken) noexcept {
    for (;;) {
      poll_desc* pd;
      {
        std::lock_guard<spin_lock> guard(list_lock_);
        pd = bound_head_;
      }
      if (pd == nullptr) return;
      std::lock_guard<spin_lock> guard(pd->lock);
      if (pd->poller != this) continue;  // unbound meanwhile; the head moved on
      claim_locked(*pd, io_mode::read, claim_io_retry, woken, false);
      claim_locked(*pd, io_mode::write, claim_io_retry, woken, false);
      unbind_locked(*pd, true);
    }
  }

  /// pd.claim_waiters_locked, keeping the count of pd's poller (if any).
  /// Holds pd's lock.
  static std::size_t claim_locked(poll_desc& pd, io_mode m, std::uint32_t outcome, wait_queue& out,
                                  bool threads_too) noexcept {
    const std::size_t claimed = pd.claim_waiters_locked(m, outcome, out, threads_too);
    if (claimed != 0 && pd.poller != nullptr) {
      pd.poller->waiting.fetch_sub(static_cast<std::int64_t>(claimed), std::memory_order_seq_cst);
    }
    return claimed;
  }

  /// Waits up to timeout_ms for events (0: just look; -1: until one comes or
  /// an interrupt) and claims the goroutines they wake into `woken`, which
  /// the caller readies. Returns how many were claimed. The caller holds the
  /// right to poll.
  std::size_t poll(int timeout_ms, wait_queue& woken) noexcept {
    polls_.store(polls_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    poll_event events[128];
    const std::size_t n = backend.wait(timeout_ms, events, 128);
    std::size_t claimed = 0;
    for (std::size_t i = 0; i < n; ++i) claimed += deliver(events[i], woken);
    return claimed;
  }

 private:
  std::size_t deliver(const poll_event& ev, wait_queue& woken) noexcept {
    poll_desc* pd = poll_desc_table::instance().find(poll_desc::fd_of(ev.tag));
    if (pd == nullptr) return 0;
    std::lock_guard<spin_lock> guard(pd->lock);
    // An event for an earlier file behind this number, or for a descriptor
    // that moved to another poller or is closing, wakes nobody.
    if (pd->poller != this || pd->closing || pd->generation != poll_desc::generation_of(ev.tag)) {
      return 0;
    }
    std::size_t claimed = 0;
    if (ev.readable) claimed += edge_locked(*pd, io_mode::read, woken);
    if (ev.writable) claimed += edge_locked(*pd, io_mode::write, woken);
    return claimed;
  }

  /// One edge in direction m: the goroutines waiting take it, or, when none
  /// does, the descriptor remembers it for the next wait. Holds pd's lock.
  static std::size_t edge_locked(poll_desc& pd, io_mode m, wait_queue& woken) noexcept {
    const std::size_t claimed = claim_locked(pd, m, claim_io_ready, woken, false);
    if (claimed == 0) pd.of(m).ready = true;
    return claimed;
  }

  std::atomic<bool> polling_{false};
  std::atomic<std::uint64_t> polls_{0};  ///< see polls()
  spin_lock list_lock_;              ///< guards the bound list (taken inside a descriptor's lock)
  poll_desc* bound_head_ = nullptr;  ///< guarded by list_lock_
};

}  // namespace goro::detail

#endif
