// global_queue.hpp: the scheduler's global run queue.
//
// Goroutines started or readied outside any worker, and the overflow of a
// full local queue, wait here; workers take a fair share at a time (see
// "A global queue" in the file comment of scheduler.hpp). An intrusive FIFO through
// goroutine::next under a spin lock, with its length in an atomic so that
// idle checks and the monitor read it without the lock.
#ifndef GORO_DETAIL_GLOBAL_QUEUE_HPP
#define GORO_DETAIL_GLOBAL_QUEUE_HPP

#include "../config.hpp"
#include "goroutine.hpp"
#include "run_queue.hpp"
#include "spin_lock.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>

namespace goro::detail {

/// The global run queue. Any thread.
class global_queue {
 public:
  /// How many goroutines wait here (a snapshot). The scheduler's
  /// lost-wake-up handshake reads it sequentially consistent.
  std::size_t size(std::memory_order order = std::memory_order_seq_cst) const noexcept {
    return size_.load(order);
  }

  /// Appends gs[0..n) in order.
  void push(goroutine* const* gs, std::size_t n) {
    std::lock_guard<spin_lock> guard(lock_);
    for (std::size_t i = 0; i < n; ++i) {
      gs[i]->next = nullptr;
      if (tail_ != nullptr) {
        tail_->next = gs[i];
      } else {
        head_ = gs[i];
      }
      tail_ = gs[i];
    }
    size_.fetch_add(n, std::memory_order_seq_cst);
  }

  /// Takes up to `max` goroutines, and no more than a fair share for one of
  /// `workers` workers; returns the first and puts the rest in `local`, which
  /// must have room for them.
  goroutine* take(run_queue& local, std::size_t workers, std::size_t max) {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<spin_lock> guard(lock_);
    std::size_t size = size_.load(std::memory_order_relaxed);
    if (size == 0) return nullptr;
    std::size_t n = std::min({size, size / workers + 1, max});
    goroutine* first = head_;
    goroutine* g = first;
    for (std::size_t i = 0; i < n; ++i) {
      goroutine* next = g->next;
      g->next = nullptr;
      if (i > 0 && !local.push(g)) fatal("run queue full while taking from the global queue");
      g = next;
    }
    head_ = g;
    if (head_ == nullptr) tail_ = nullptr;
    size_.fetch_sub(n, std::memory_order_relaxed);
    return first;
  }

 private:
  spin_lock lock_;
  goroutine* head_ = nullptr;  ///< guarded by lock_
  goroutine* tail_ = nullptr;  ///< guarded by lock_
  std::atomic<std::size_t> size_{0};
};

}  // namespace goro::detail

#endif
