// run_queue.hpp: a worker's local queue of runnable goroutines.
//
// A bounded ring that only its owning worker pushes to and pops from the
// head of, and that other workers steal half of (the design of Go's runq).
// head and tail only grow; tail - head is the length.
//
// Invariants and why the lock-free paths are safe:
// - Only the owner writes `tail`, and it writes a slot before publishing it
//   with a release store of `tail`; consumers read `tail` with acquire.
// - Every consumer (the owner popping, a thief stealing) claims entries by a
//   compare-and-swap of `head`. A thief copies slots before its CAS; if the
//   owner has since reused those slots the CAS fails (head moved) and the copy
//   is discarded. Slots are atomics so that such a discarded read is not a
//   data race in the C++ model (nor to ThreadSanitizer).
#ifndef GORO_DETAIL_RUN_QUEUE_HPP
#define GORO_DETAIL_RUN_QUEUE_HPP

#include "../config.hpp"
#include "goroutine.hpp"

#include <atomic>
#include <cstdint>

namespace goro::detail {

class run_queue {
 public:
  /// Capacity, as in Go.
  static constexpr std::uint32_t capacity = 256;

  /// Owner only. Appends g; returns false (and leaves the queue as it was)
  /// when full, in which case the caller moves half of it elsewhere.
  bool push(goroutine* g) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= capacity) return false;
    slots_[t % capacity].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  /// Owner only, when push failed: takes the older half of the queue into
  /// `out` (up to capacity / 2 entries) and returns how many. Returns 0 if a
  /// thief emptied enough of it meanwhile that a push will now succeed.
  std::uint32_t take_half(goroutine** out) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t n = (t - h) / 2;
    if (n < capacity / 2) return 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      out[i] = slots_[(h + i) % capacity].load(std::memory_order_relaxed);
    }
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return 0;
    }
    return n;
  }

  /// Owner only. Takes the oldest entry, or nullptr when empty.
  goroutine* pop() noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      goroutine* g = slots_[h % capacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return g;
      }
    }
  }

  /// Any thread. Moves half of this queue (rounded up) into `thief`, which must
  /// be empty and owned by the caller; returns one of the stolen goroutines for
  /// the caller to run (it is not put in `thief`), or nullptr if there was nothing.
  goroutine* steal_half_into(run_queue& thief) noexcept {
    std::uint32_t tt = thief.tail_.load(std::memory_order_relaxed);
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n -= n / 2;
      if (n == 0) return nullptr;
      if (n > capacity / 2) continue;  // read h and t at different times; retry
      for (std::uint32_t i = 0; i < n; ++i) {
        thief.slots_[(tt + i) % capacity].store(
            slots_[(h + i) % capacity].load(std::memory_order_relaxed), std::memory_order_relaxed);
      }
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        // Keep the last one to run now, publish the others.
        goroutine* g = thief.slots_[(tt + n - 1) % capacity].load(std::memory_order_relaxed);
        if (n > 1) thief.tail_.store(tt + n - 1, std::memory_order_release);
        return g;
      }
    }
  }

  /// Any thread; a snapshot that may be stale by the time it is used.
  std::uint32_t size() const noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    return t - h;
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<goroutine*> slots_[capacity] = {};
};

}  // namespace goro::detail

#endif
