// idle_list.hpp: the workers that sleep for want of work.
//
// A LIFO of workers under a spin lock, linked through the worker's own
// `idle_next` and `idle_listed` fields, with its length in an atomic that
// wakers read without the lock (see "Spinning" in scheduler.hpp for the
// handshake it takes part in). A class template only because the worker's
// class is defined later, in scheduler.hpp, which uses it with `worker`.
#ifndef GORO_DETAIL_IDLE_LIST_HPP
#define GORO_DETAIL_IDLE_LIST_HPP

#include "../config.hpp"
#include "global_queue.hpp"
#include "spin_lock.hpp"

#include <atomic>
#include <cstddef>
#include <mutex>

namespace goro::detail {

/// Idle workers. Any thread. Invariant (under the lock): a worker is listed
/// exactly when its `idle_listed` is set, and `size()` counts them.
template <class Worker>
class idle_list {
 public:
  /// How many workers are listed (a snapshot).
  std::size_t size(std::memory_order order = std::memory_order_seq_cst) const noexcept {
    return count_.load(order);
  }

  /// Lists w as idle. Returns false (and does not list it) if `global` has
  /// work, checked under this list's lock.
  bool push(Worker& w, const global_queue& global) {
    std::lock_guard<spin_lock> guard(lock_);
    if (global.size(std::memory_order_seq_cst) != 0) return false;
    w.idle_next = head_;
    head_ = &w;
    w.idle_listed = true;
    count_.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }

  /// Takes the most recently listed worker off the list, or returns nullptr.
  Worker* pop() {
    std::lock_guard<spin_lock> guard(lock_);
    Worker* w = head_;
    if (w != nullptr) {
      head_ = w->idle_next;
      w->idle_listed = false;
      count_.fetch_sub(1, std::memory_order_seq_cst);
    }
    return w;
  }

  /// Takes w off the list; false if it was not listed (someone popped it).
  bool remove(Worker& w) {
    std::lock_guard<spin_lock> guard(lock_);
    if (!w.idle_listed) return false;
    Worker** p = &head_;
    while (*p != &w) p = &(*p)->idle_next;
    *p = w.idle_next;
    w.idle_listed = false;
    count_.fetch_sub(1, std::memory_order_seq_cst);
    return true;
  }

 private:
  spin_lock lock_;
  Worker* head_ = nullptr;  ///< guarded by lock_
  std::atomic<std::size_t> count_{0};
};

}  // namespace goro::detail

#endif
