// timer_heap.hpp: the runtime's deadlines, ordered.
//
// One binary min-heap per runtime, guarded by one lock. Workers look at it
// between goroutines (a lock-free read of `earliest`) and an idle worker
// sleeps until the earliest deadline. Nodes are intrusive and owned by their
// users (a sleeping goroutine's stack, a timer's shared state); the heap only
// points at them while they are armed.
//
// Due nodes are taken out under the lock and fired after it is released, so a
// fire function may take other locks (a channel's) without ordering problems,
// and may re-arm its node (tickers). Once a node is taken out, nothing in the
// heap refers to it; the fire function owns what happens next.
#ifndef GORO_DETAIL_TIMER_HEAP_HPP
#define GORO_DETAIL_TIMER_HEAP_HPP

#include "../config.hpp"
#include "parker.hpp"
#include "spin_lock.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace goro::detail {

/// An entry of the heap.
struct timer_node {
  static constexpr std::size_t not_armed = ~std::size_t{0};
  steady_clock::time_point when{};
  void (*fire)(timer_node*) = nullptr;  ///< called once when due, outside the heap lock
  void* arg = nullptr;                  ///< for the fire function
  /// Called instead of fire when the heap is destroyed with the node armed
  /// (a runtime ending with timers pending); may be null.
  void (*abandon)(timer_node*) = nullptr;
  std::size_t index = not_armed;  ///< position in the heap; guarded by the heap lock
  std::uint64_t seq = 0;          ///< arming order: equal deadlines fire first-armed first
};

class timer_heap {
 public:
  timer_heap() = default;
  timer_heap(const timer_heap&) = delete;
  timer_heap& operator=(const timer_heap&) = delete;

  /// Runs after the runtime's workers have stopped: nothing fires any more,
  /// and owners of still-armed nodes are told so that they can let go.
  ~timer_heap() {
    std::vector<timer_node*> left;
    left.swap(heap_);
    for (timer_node* n : left) n->index = timer_node::not_armed;
    for (timer_node* n : left) {
      if (n->abandon != nullptr) n->abandon(n);
    }
  }

  /// The lock; held by callers of the *_locked functions.
  spin_lock& lock() noexcept { return lock_; }

  /// Arms `n` (which must not be armed). Holds the lock. Returns true if `n`
  /// is now the earliest deadline, in which case an idle worker sleeping
  /// toward a later one must be woken.
  bool add_locked(timer_node* n) {
    GORO_ASSERT(n->index == timer_node::not_armed);
    n->seq = next_seq_++;
    n->index = heap_.size();
    heap_.push_back(n);
    sift_up(n->index);
    publish_earliest();
    return heap_.front() == n;
  }

  /// add_locked, taking the lock.
  bool add(timer_node* n) {
    std::lock_guard<spin_lock> guard(lock_);
    return add_locked(n);
  }

  /// Disarms `n`; returns false if it was not armed (already fired or taken).
  bool remove(timer_node* n) noexcept {
    std::lock_guard<spin_lock> guard(lock_);
    return remove_locked(n);
  }

  /// remove, with the lock held.
  bool remove_locked(timer_node* n) noexcept {
    if (n->index == timer_node::not_armed) return false;
    std::size_t i = n->index;
    std::size_t last = heap_.size() - 1;
    if (i != last) {
      place(i, heap_[last]);
      heap_.pop_back();
      sift_down(i);
      sift_up(i);
    } else {
      heap_.pop_back();
    }
    n->index = timer_node::not_armed;
    publish_earliest();
    return true;
  }

  /// Takes every node due at `now` out of the heap, in deadline order, and
  /// appends it to `out`. Takes the lock only if something may be due.
  void take_due(steady_clock::time_point now, std::vector<timer_node*>& out) {
    if (earliest() > now) return;
    std::lock_guard<spin_lock> guard(lock_);
    while (!heap_.empty() && heap_.front()->when <= now) {
      timer_node* n = heap_.front();
      remove_locked(n);
      out.push_back(n);
    }
  }

  /// The earliest armed deadline, or time_point::max(); lock-free, may be stale.
  steady_clock::time_point earliest() const noexcept {
    return steady_clock::time_point(
        steady_clock::duration(earliest_.load(std::memory_order_seq_cst)));
  }

  /// Armed nodes now (takes the lock; for traces).
  std::size_t size() {
    std::lock_guard<spin_lock> guard(lock_);
    return heap_.size();
  }

  /// Whether any node is armed; lock-free, may be stale.
  bool empty() const noexcept { return earliest() == steady_clock::time_point::max(); }

 private:
  static bool before(const timer_node* a, const timer_node* b) noexcept {
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
  }
  void place(std::size_t i, timer_node* n) noexcept {
    heap_[i] = n;
    n->index = i;
  }
  void sift_up(std::size_t i) noexcept {
    timer_node* n = heap_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!before(n, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, n);
  }
  void sift_down(std::size_t i) noexcept {
    timer_node* n = heap_[i];
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= heap_.size()) break;
      if (child + 1 < heap_.size() && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], n)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, n);
  }
  void publish_earliest() noexcept {
    auto t = heap_.empty() ? steady_clock::time_point::max() : heap_.front()->when;
    earliest_.store(t.time_since_epoch().count(), std::memory_order_seq_cst);
  }

  spin_lock lock_;
  std::vector<timer_node*> heap_;
  std::uint64_t next_seq_ = 0;
  std::atomic<steady_clock::rep> earliest_{
      steady_clock::time_point::max().time_since_epoch().count()};
};

}  // namespace goro::detail

#endif
