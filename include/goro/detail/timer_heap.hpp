// timer_heap.hpp: the runtime's deadlines, ordered.
//
// One binary min-heap per runtime, guarded by one lock. Workers look at it
// between goroutines (a lock-free read of `earliest`) and an idle worker
// sleeps until the earliest deadline. Nodes are intrusive and owned by their
// users (a sleeping goroutine's stack, a timer's shared state); the heap only
// points at them while they are armed.
//
// No allocation on a worker: the heap grows only in reserve_slots(), which
// runs on the side of whoever will later arm a node (the stack pool when it
// maps stacks, one node for each, since a goroutine runs on one stack and
// its timed waits use one node at a time; a timer or ticker's constructor),
// where std::bad_alloc is an ordinary exception. Arming, which
// happens on a worker's own context (a timed wait arms after its goroutine
// parked; a ticker re-arms from its fire function), then never allocates.
// Invariant: heap size <= successful reservations <= capacity_ == the
// vector's capacity, which never shrinks (slots_ runs ahead of capacity_
// only while a reserve_slot is growing the heap or giving its count back).
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
    if (heap_.size() == heap_.capacity()) {
      fatal("the timer heap is full: a timer was armed without a reserved slot");  // a goro bug
    }
    n->seq = next_seq_++;
    n->index = heap_.size();
    heap_.push_back(n);
    sift_up(n->index);
    publish_earliest();
    return heap_.front() == n;
  }

  /// Promises one more node a place in the heap, growing it if needed; until
  /// release_slot(), arming that node never allocates. Throws std::bad_alloc
  /// (and promises nothing) when the heap cannot grow. Never on a worker's
  /// own context. The common case is one uncontended fetch_add, inlined;
  /// only growing the heap takes the lock.
  GORO_ALWAYS_INLINE void reserve_slot() { reserve_slots(1); }

  /// reserve_slot() for `n` nodes at once: all of them, or none and throws.
  GORO_ALWAYS_INLINE void reserve_slots(std::size_t n) {
    // Counting first is safe: a reservation succeeds only when the count
    // before it, which includes every live and pending one, plus its own
    // stays within the capacity, and the capacity never shrinks.
    const std::size_t before = slots_.fetch_add(n, std::memory_order_relaxed);
    if (before + n > capacity_.load(std::memory_order_acquire)) grow_for(before + n - 1, n);
  }

  /// Gives back a slot from reserve_slot() (the node is not armed).
  void release_slot() noexcept { release_slots(1); }

  /// Gives back `n` slots from reserve_slots().
  void release_slots(std::size_t n) noexcept { slots_.fetch_sub(n, std::memory_order_relaxed); }

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

  /// Takes up to `max` nodes due at `now` out of the heap, in deadline order,
  /// into out[0..); returns how many (fewer than max: no more are due). Takes
  /// the lock only if something may be due. A fixed array, not a vector: it
  /// runs on a worker's own context, where nothing may allocate.
  std::size_t take_due(steady_clock::time_point now, timer_node** out, std::size_t max) {
    if (earliest() > now) return 0;
    std::lock_guard<spin_lock> guard(lock_);
    std::size_t n = 0;
    while (n < max && !heap_.empty() && heap_.front()->when <= now) {
      timer_node* t = heap_.front();
      remove_locked(t);
      out[n++] = t;
    }
    return n;
  }

  /// Takes every node due at `now` into `out` (for tests: it allocates).
  void take_due(steady_clock::time_point now, std::vector<timer_node*>& out) {
    timer_node* batch[64];
    std::size_t n = 0;
    do {
      n = take_due(now, batch, 64);
      out.insert(out.end(), batch, batch + n);
    } while (n == 64);
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

  /// Slots promised by reserve_slots and not given back (for tests).
  std::size_t reserved() const noexcept { return slots_.load(std::memory_order_relaxed); }

  /// Whether any node is armed; lock-free, may be stale.
  bool empty() const noexcept { return earliest() == steady_clock::time_point::max(); }

 private:
  /// reserve_slots' slow path: grows the heap past `index` (this caller's
  /// last place in the count), or takes its `n` back and throws.
  __attribute__((noinline, cold)) void grow_for(std::size_t index, std::size_t n) {
    for (;;) {
      const std::size_t cap = capacity_.load(std::memory_order_acquire);
      if (index < cap) return;
      // Allocated before the lock (other workers spin on it): a throw here
      // changes nothing once the count is given back.
      std::vector<timer_node*> bigger;
      GORO_TRY {
        GORO_FAULT_ALLOCATION();
        bigger.reserve(cap < 32 ? 64 : 2 * cap);
      }
      GORO_CATCH_ALL {
        release_slots(n);
        GORO_RETHROW;
      }
      std::lock_guard<spin_lock> guard(lock_);
      if (bigger.capacity() > heap_.capacity()) {
        bigger.assign(heap_.begin(), heap_.end());  // fits: no allocation under the lock
        heap_.swap(bigger);
        capacity_.store(heap_.capacity(), std::memory_order_release);
      }
    }  // the old buffer is freed after the unlock
  }

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
  std::atomic<std::size_t> slots_{0};     ///< slots promised by reserve_slot
  std::atomic<std::size_t> capacity_{0};  ///< heap_.capacity(), for reserve_slot without the lock
  std::atomic<steady_clock::rep> earliest_{
      steady_clock::time_point::max().time_since_epoch().count()};
};

}  // namespace goro::detail

#endif
